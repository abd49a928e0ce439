"""The config schema: the shipped configs validate, and each mistake names its key."""
from __future__ import annotations

import copy
import re

import pytest
import yaml

from tests.workflow_runs import REPO
from vplan_core.config import ConfigError, apply_command_line, validate_config

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
    ("plg.clip.tau", 1.5, "config key 'plg.clip.tau': 1.5 is out of range"),
    ("plg.clip.tau", 0.0, "config key 'plg.clip.tau': 0.0 is out of range"),
    ("rl.distance", "huber", "config key 'rl.distance': 'huber' is not one of ['bce', 'l1', 'mse']"),
    ("pld.beta", 1, "config key 'pld': Additional properties are not allowed ('beta' was unexpected); allowed keys: alpha, k"),
])
def test_errors_name_the_key(path, value, expected):
    with pytest.raises(ConfigError) as error:
        validate_config(broken(path, value))
    assert expected in str(error.value)


@pytest.mark.parametrize("path, value", [
    ("train.lr", ".nan"), ("train.dropout", ".nan"), ("plg.clip.tau", ".nan"), ("pld.alpha", ".inf"),
    ("train.betas", "[0.9, .nan]"), ("sampling.min_duration_s", "-.inf"), ("train.epochs", ".nan"),
    ("models.mm_pyramid.kwargs.dropout", ".nan"),  # a free-form mapping: no schema type to check
])
def test_nan_and_infinity_are_refused_for_every_number(path, value):
    """No range check catches NaN (it compares false with every bound): a NaN tau made all-zero labels."""
    number = yaml.safe_load(f"value: {value}")["value"]  # as config.yaml reads it
    key = path + (".1" if isinstance(number, list) else "")
    with pytest.raises(ConfigError) as error:
        validate_config(broken(path, number))
    assert re.fullmatch(rf"invalid configuration:\n  config key '{re.escape(key)}': -?(nan|inf) is not a finite "
                        r"number \(NaN and infinity are refused\)", str(error.value))


def test_nan_given_with_config_is_refused():
    config = copy.deepcopy(DEMO)
    overrides = {"train": {"lr": "nan"}, "pld": {"alpha": "Infinity"}}
    for section, values in overrides.items():
        config[section].update(values)
    given = apply_command_line(config, overrides)
    with pytest.raises(ConfigError) as error:
        validate_config(config, command_line=given)
    assert "config key 'pld.alpha': inf (given with --config) is not a finite number" in str(error.value)
    assert "config key 'train.lr': nan (given with --config) is not a finite number" in str(error.value)


def test_yaml_reads_1e_minus_4_as_a_string():
    assert yaml.safe_load("lr: 1e-4")["lr"] == "1e-4"
    assert yaml.safe_load("lr: 1.0e-4")["lr"] == 1.0e-4


def test_command_line_values_get_the_schema_types():
    """Snakemake gives nested --config values as strings: those become the schema's types."""
    config = copy.deepcopy(DEMO)
    overrides = {"pld": {"alpha": "7.5", "k": "3"}, "train": {"seeds": ["4", "5"], "lr": "1e-4",
                                                                "standardize_inputs": "false"}}
    for section, values in overrides.items():
        config[section].update(values)
    given = apply_command_line(config, overrides)
    assert {"pld.alpha", "pld.k", "train.seeds", "train.lr"} <= given
    assert (config["pld"]["k"], config["pld"]["alpha"]) == (3, 7.5)
    assert config["train"]["seeds"] == [4, 5] and config["train"]["lr"] == 1.0e-4  # float(): no YAML pitfall
    assert config["train"]["standardize_inputs"] is False
    validate_config(config, command_line=given)


def test_config_file_strings_keep_their_type_errors():
    config = broken("train.lr", "1e-4")  # from a file: not in the overrides
    config["pld"]["alpha"] = "7.5"
    given = apply_command_line(config, {"pld": {"alpha": "7.5"}})
    assert config["train"]["lr"] == "1e-4" and config["pld"]["alpha"] == 7.5
    with pytest.raises(ConfigError, match=r"'train.lr': '1e-4' is a string.*write 1.0e-4"):
        validate_config(config, command_line=given)
    config["pld"]["alpha"] = "seven"
    given = apply_command_line(config, {"pld": {"alpha": "seven"}})
    with pytest.raises(ConfigError, match=r"'pld.alpha': 'seven' \(given with --config\) is not a number"):
        validate_config(config, command_line=given)
