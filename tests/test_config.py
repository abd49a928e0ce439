"""The config schema: the shipped configs validate, and each mistake names its key."""
from __future__ import annotations

import copy

import pytest
import yaml

from tests.workflow_runs import REPO
from vplan_core.config import ConfigError, validate_config

DEMO = yaml.safe_load((REPO / "config.yaml").read_text())


def broken(path: str, value) -> dict:
    config = copy.deepcopy(DEMO)
    *parents, last = path.split(".")
    node = config
    for key in parents:
        node = node[key]
    node[last] = value
    return config


def test_shipped_configs_are_valid():
    validate_config(DEMO)
    for path in (REPO / "config").glob("*.yaml"):
        validate_config(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize("path, value, expected", [
    ("train.lr", "1e-4", "config key 'train.lr': '1e-4' is a string"),
    ("train.epochs", -1, "config key 'train.epochs': -1 is out of range"),
    ("plg.tau", 1.5, "config key 'plg.tau': 1.5 is out of range"),
    ("plg.tau", 0.0, "config key 'plg.tau': 0.0 is out of range"),
    ("rl.distance", "huber", "config key 'rl.distance': 'huber' is not one of ['bce', 'l1', 'mse']"),
    ("pld.beta", 1, "config key 'pld': Additional properties are not allowed ('beta' was unexpected); allowed keys: alpha, k"),
])
def test_errors_name_the_key(path, value, expected):
    with pytest.raises(ConfigError) as error:
        validate_config(broken(path, value))
    assert expected in str(error.value)


def test_yaml_reads_1e_minus_4_as_a_string():
    assert yaml.safe_load("lr: 1e-4")["lr"] == "1e-4"
    assert yaml.safe_load("lr: 1.0e-4")["lr"] == 1.0e-4
