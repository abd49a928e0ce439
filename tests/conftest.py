"""Fixtures shared by the tests: the real LLP val and test splits, loaded once per session, and
the tiny demo run to the end once per session (its users work on copies)."""
import pytest

from tests.paths import LLP_DIR
from tests.workflow_runs import run_tiny_demo
from vplan_core.data import annotations as llp
from vplan_core.data.description import LLP


@pytest.fixture(scope="session")
def test_split() -> llp.Split:
    return llp.load_split(LLP_DIR, "test")


@pytest.fixture(scope="session")
def val_split() -> llp.Split:
    return llp.load_split(LLP_DIR, "val")


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory):
    """(workdir, config) of one finished tiny demo run: read it, or copy it before changing it."""
    workdir = tmp_path_factory.mktemp("tiny-demo")
    return workdir, run_tiny_demo(workdir)
