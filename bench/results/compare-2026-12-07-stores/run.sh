set -e
cd /tmp/stores_base && PYTHONPATH=/tmp/stores_base /work/wt/stores/.venv/bin/python -c "
from pathlib import Path; from tests.workflow_runs import run_tiny_demo, REPO; print(REPO); run_tiny_demo(Path('/tmp/stores_runs/before'))"
echo before done $(date)
cd /work/wt/stores && .venv/bin/python -c "
from pathlib import Path; from tests.workflow_runs import run_tiny_demo, REPO; print(REPO); run_tiny_demo(Path('/tmp/stores_runs/after'))"
echo after done $(date)
