#!/usr/bin/env bash
# Install the Debian packages of a one-node SLURM cluster with accounting (used by tests/test_slurm.py).
# Idempotent: returns at once when everything is already installed. Needs root (or sudo) and apt.
set -euo pipefail
PACKAGES=(slurm-wlm slurmdbd slurm-client munge mariadb-server)
missing=()
for package in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo -n"
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101: the packages' postinst must not start daemons (the test starts its own).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee $policy >/dev/null && $SUDO chmod +x $policy && created_policy=1
fi
cleanup() { [[ $created_policy -eq 1 ]] && $SUDO rm -f $policy; return 0; }
trap cleanup EXIT
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
