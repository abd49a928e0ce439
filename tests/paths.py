"""Where the tests find the repository and the real LLP annotation files (../shared/llp)."""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VPLAN_SHARED") or REPO.parent / "shared")
LLP_DIR = SHARED / "llp"
