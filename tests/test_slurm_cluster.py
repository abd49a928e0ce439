"""The SLURM test cluster's hygiene: leftovers of a killed test run are found and stopped."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.slurm_cluster import TOKEN_PREFIX, _process_start, stop_leftovers


def daemon(token: str) -> subprocess.Popen:
    """A stand-in daemon: a long sleep carrying a cluster token, in its own session as the real ones."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                            env=dict(os.environ, VPLAN_SLURM_TEST=token), start_new_session=True)


def test_leftovers_of_a_killed_run_are_stopped_and_live_runs_are_not():
    # a test run that is gone: a process that existed (its pid and start time) and has exited
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone_token = f"{TOKEN_PREFIX}{gone.pid}-{_process_start(gone.pid)}-1"
    gone.wait()
    live_token = f"{TOKEN_PREFIX}{os.getpid()}-{_process_start(os.getpid())}-2"  # this run
    orphan, ours = daemon(gone_token), daemon(live_token)
    try:
        time.sleep(0.2)
        stopped = stop_leftovers()
        assert orphan.pid in stopped and ours.pid not in stopped
        assert orphan.wait(timeout=15) is not None
        assert ours.poll() is None
    finally:
        for process in (orphan, ours):
            process.kill()
            process.wait()
