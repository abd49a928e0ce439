"""The conda environment files pin exactly what requirements.txt pins (one truth for both routes)."""
from __future__ import annotations

import yaml

from tests.workflow_runs import REPO


def pins(lines) -> dict[str, str]:
    result = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==")
            result[name.strip().lower()] = version.strip()
    return result


def test_conda_envs_agree_with_pip_pins():
    requirements = pins((REPO / "requirements.txt").read_text().splitlines())
    env_files = sorted((REPO / "envs").glob("*.yaml"))
    assert len(env_files) == 3
    for path in env_files:
        env = yaml.safe_load(path.read_text())
        pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
        env_pins = pins(pip_section)
        assert env_pins, path
        for name, version in env_pins.items():
            assert requirements.get(name) == version, f"{path.name}: {name}=={version} vs requirements.txt"


def test_every_rule_names_an_env_file():
    for smk in (REPO / "rules").glob("*.smk"):
        lines = smk.read_text().splitlines()
        rules = sum(line.strip().startswith("rule ") for line in lines)  # also a rule inside an `if`
        envs = sum(line.strip() == "conda:" for line in lines)
        assert rules == envs, smk.name
