"""Fixtures shared by the tests: the real LLP val and test splits, loaded once per session."""
import pytest

from tests.paths import LLP_DIR
from vplan_core.data import llp


@pytest.fixture(scope="session")
def test_split() -> llp.Split:
    return llp.load_split(LLP_DIR, "test")


@pytest.fixture(scope="session")
def val_split() -> llp.Split:
    return llp.load_split(LLP_DIR, "val")
