"""Send a workflow job's prints and tracebacks to its Snakemake log file."""
from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def job_log(path: str | Path) -> Iterator[None]:
    """Redirect stdout/stderr to `path`; an exception is written there too, then re-raised."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as handle, contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
        try:
            yield
        except BaseException:
            traceback.print_exc(file=handle)
            raise

