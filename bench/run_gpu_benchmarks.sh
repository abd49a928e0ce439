#!/usr/bin/env bash
# The GPU benchmarks as one prepared run (a lent GPU machine gives a session ~15 minutes in all):
# the VPLAN chain for every parser family, feature extraction, and each family's epoch. Every
# step has its own time limit, so one overrun leaves the others' figures; each writes its output
# to $OUT (default: bench-gpu-out). Python packages the machine lacks are installed first from
# wheels in .whl/ when there are any (README, Performance: how they were fetched).
#
#     bash bench/run_gpu_benchmarks.sh
set -uo pipefail
OUT=${OUT:-bench-gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
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
step chain_mgn 80 python3 bench/bench_gpu_chain.py --device cuda --model mgn --epochs 2 --seeds 1,5 --ways vplan
step chain_mm_pyramid 80 python3 bench/bench_gpu_chain.py --device cuda --model mm_pyramid --epochs 2 --seeds 1,5 --ways vplan
step family_epochs 60 python3 bench/bench_family_epochs.py --device cuda --videos 10000 --repeats 2
step extraction 150 python3 bench/bench_gpu_extraction.py --device cuda --clips 32 --workers 8 --json "$OUT/extraction.json"
