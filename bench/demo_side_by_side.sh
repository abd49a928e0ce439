#!/usr/bin/env bash
# `make demo` from nothing at two commits, one after the other on this machine: what a change
# does to the demo's wall time and job-seconds. Each commit is checked out fresh (git worktree)
# and runs make demo's own commands (run_lock, then snakemake through profiles/local) with this
# checkout's venv; PYTHONPATH makes each import its own vplan_core. Prints one line per commit
# (wall seconds) and the sum of its jobs' benchmark seconds; the runs stay in WORK for reports.
#
#     bash bench/demo_side_by_side.sh OLD_COMMIT NEW_COMMIT [WORK]   # ~15 minutes on 2 cores
set -u
old=$1 new=$2 work=${3:-/tmp/vplan-demo-pair}
repo=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$repo/.venv/bin:$PATH
mkdir -p "$work"
for commit in "$old" "$new"; do
  dir=$work/demo_$commit
  rm -rf "$dir" && git -C "$repo" worktree prune && git -C "$repo" worktree add -q --detach "$dir" "$commit"
  start=$(date +%s.%N)
  (cd "$dir" && PYTHONPATH=$dir python -m vplan_core.run_lock "$dir" \
     && PYTHONPATH=$dir snakemake --profile "$dir/profiles/local" --cores 2 --directory "$dir" > "$work/demo_$commit.log" 2>&1)
  rc=$?
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  jobs=$(find "$dir/benchmarks" -name '*.tsv' -exec sh -c 'tail -n 1 "$1" | cut -f1' _ {} \; | awk '{s += $1} END {print s}')
  echo "$commit rc=$rc wall_s=$wall job_s=$jobs"
done
