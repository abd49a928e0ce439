#!/usr/bin/env bash
# The GPU benchmarks as one prepared run (a lent GPU machine gives a session ~15 minutes in all):
# the VPLAN chain for every parser family, feature extraction, and each family's epoch. Every
# step has its own time limit, so one overrun leaves the others' figures; each writes its output
# to $OUT (default: bench-gpu-out). Python packages the machine lacks are installed first from
# wheels in .whl/ when there are any (README, Performance: how they were fetched). STEPS names
# the steps to run (default: all). Limits are sized from the first H200 run (2026-12-04): HAN's
# chain takes about 13 s an epoch-stage pair there, MGN's and MM-Pyramid's several times that,
# and making 10,000 LLP-shaped random videos alone takes tens of seconds.
#
#     bash bench/run_gpu_benchmarks.sh
#     STEPS="family_epochs chain_mgn" bash bench/run_gpu_benchmarks.sh
set -uo pipefail
OUT=${OUT:-bench-gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
STEPS=${STEPS:-chain_han chain_mgn chain_mm_pyramid family_epochs extraction}
step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    [[ " $STEPS " == *" $name "* ]] || return 0
    echo "=== $name (limit ${limit} s): $*" | tee -a "$OUT/summary.txt"
    local started=$SECONDS
    timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1
    echo "=== $name: exit $? after $((SECONDS - started)) s" | tee -a "$OUT/summary.txt"
    tail -n 12 "$OUT/$name.txt"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
python3 -c "import torch, platform; print(platform.python_version(), torch.__version__, torch.cuda.get_device_name())" >> "$OUT/gpu.txt" 2>&1
cat "$OUT/gpu.txt"
step chain_han 170 python3 bench/bench_gpu_chain.py --device cuda --epochs 5 --plain-epochs 1 --seeds 1,5 --ways plain,vplan,vplan+compile
step family_epochs 70 python3 bench/bench_family_epochs.py --device cuda --videos 2000 --repeats 3
step chain_mgn 110 python3 bench/bench_gpu_chain.py --device cuda --model mgn --epochs 1 --seeds 1 --ways vplan
step chain_mm_pyramid 110 python3 bench/bench_gpu_chain.py --device cuda --model mm_pyramid --epochs 1 --seeds 1 --ways vplan
step extraction 150 python3 bench/bench_gpu_extraction.py --device cuda --clips 32 --workers 8 --json "$OUT/extraction.json"
