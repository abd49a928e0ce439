"""`vplan parse` of one video in a fresh interpreter, with its wall time and peak RSS: what the
parse benches measure. A bench's "before" rows run the same parse after `setup`, Python that
undoes one change (a module constant set back) in that interpreter only."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Runs in a fresh interpreter: parse one video, print {"exit", "seconds", "peak_rss_mb"} as JSON.
CHILD = """
import json, resource, sys, time
from vplan_core.cli import main
exec(sys.argv[5])
started = time.perf_counter()
code = main(["parse", sys.argv[1], "--checkpoint", sys.argv[2], "--config", sys.argv[3], "--out", sys.argv[4]])
print(json.dumps({"exit": code, "seconds": time.perf_counter() - started,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def parse_once(video: Path, checkpoint: Path, config: Path, out: Path, setup: str = "") -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD, str(video), str(checkpoint), str(config), str(out), setup],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])
