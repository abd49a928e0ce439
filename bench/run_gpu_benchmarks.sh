#!/usr/bin/env bash
# The GPU benchmarks as one prepared run (a lent GPU machine gives a session ~15 minutes in all,
# a call at most 10): steady-state extraction of all features in one pass, the VPLAN chain of
# every parser family at S = 1 and S = 5, and HAN's step eager against compiled (CUDA graphs).
# Every step has its own time limit, so one overrun leaves the others' figures; each writes its
# output to $OUT (default: bench-gpu-out). About 7.5 minutes in all. Python packages the machine
# lacks are installed first from wheels in .whl/ when there are any (docs/results.md, "Performance
# and CI timings": how they were fetched). STEPS names the steps to run (default: all, extraction first).
#
#     bash bench/run_gpu_benchmarks.sh
#     STEPS="chain train_steps" bash bench/run_gpu_benchmarks.sh
set -uo pipefail
OUT=${OUT:-bench-gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
STEPS=${STEPS:-extraction chain train_steps}
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
step extraction 170 python3 bench/bench_gpu_extraction.py --device cuda --clips 512 --warmup 32 --distinct 64 --workers 14 --json "$OUT/extraction.json"
step chain 170 python3 bench/bench_gpu_chain.py --device cuda --scale gpu-quick --models han,mgn,mm_pyramid --ways vplan --seeds 1,5 --epochs 2 --budget 25
step train_steps 120 python3 bench/bench_train_steps.py --device cuda --size llp --models han --seeds 1,5 --ways eager,compiled --block 20 --blocks 5 --budget 10
