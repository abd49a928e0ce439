"""Run the real Snakemake workflow in a scratch working directory (used by the workflow tests)."""
from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.paths import REPO

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def tiny_demo_config(name: str = "tiny") -> dict:
    """The demo config shrunk to a handful of clips, tiny backbones, CLIP and CLAP (pretrained on a
    few dozen in-world examples) and 2 epochs."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config = copy.deepcopy(config)
    config["dataset"].update(name=name, annotations=f"resources/{name}/annotations",
                             videos=f"resources/{name}/videos", shard_size=9)
    config["demo"].update(n_train=10, n_val=4, n_test=4)
    config["demo"]["video"].update(width=96, height=72, fps=12)
    config["demo"]["clip_training"].update(n_images=256, epochs=1, batch_size=64)
    config["demo"]["clap_training"].update(n_examples=64, epochs=1, batch_size=32)
    config["features"]["clap"]["checkpoint"] = f"resources/{name}/clap/vplan-demo-clap"
    tiny_pretraining = {"cnn2d": dict(n_examples=52, batch_size=26),
                        "r2plus1d": dict(n_examples=26, batch_size=13),
                        "vggish": dict(n_examples=26, batch_size=13)}
    for backbone, settings in tiny_pretraining.items():
        config["demo"]["backbone_training"][backbone].update(epochs=1, **settings)
        config["features"][backbone]["weights"] = f"resources/{name}/backbones/{backbone}.pth"
    config["features"]["cnn2d"].update(size=32)
    config["features"]["r2plus1d"].update(size=16)  # half the 2D CNN's: inflated from it
    config["features"]["clip"].update(checkpoint=f"resources/{name}/clip/vplan-demo-clip.pt",
                                      config_file=str(REPO / "vplan_core/demo/vplan-demo-clip.json"))
    config["train"].update(epochs=2, d_model=32, lr_step=1, seeds=[0, 1])
    config["report"]["timeline_clips"] = 2
    return config


def run_tiny_demo(workdir: Path) -> dict:
    """The tiny demo run to the end in workdir, with a copy of the report template there (relative
    path, so a copy of the folder edits its own). Returns its config."""
    config = tiny_demo_config()
    (workdir / "report_template.md").write_text((REPO / "vplan_core/templates/report.md").read_text())
    config["report"]["template"] = "report_template.md"
    snakemake(workdir, write_config(workdir, config), "--cores", "2")
    return config


def copy_run(source: Path, target: Path, leave_out: tuple[str, ...] = ()) -> Path:
    """A copy of a finished run's folder, file times and Snakemake's records kept (so the copy
    is as up to date as the original), without the paths in leave_out (relative to source)."""
    left_out = {source / path for path in leave_out}
    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True,
                    ignore=lambda folder, names: [n for n in names if Path(folder) / n in left_out])
    return target


def write_config(workdir: Path, config: dict, name: str = "config.yaml") -> Path:
    path = workdir / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(workdir: Path, configfile: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--configfile", str(configfile), *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def planned_wildcards(workdir: Path, configfile: Path, rule: str, wildcard: str) -> set[str]:
    """The values of one wildcard over the jobs of `rule` that a dry run would execute."""
    return {job["wildcards"][wildcard] for job in planned_rule_jobs(workdir, configfile, rule)}


def planned_rule_jobs(workdir: Path, configfile: Path, rule: str, *args: str) -> list[dict]:
    """The jobs of `rule` that a dry run would execute, each {"wildcards": name -> value,
    "input": [paths]}."""
    result = snakemake(workdir, configfile, "--dry-run", *args)
    jobs, in_rule = [], False
    for line in (result.stdout + result.stderr).splitlines():
        if re.match(r"^(local)?rule \w+:$", line):
            in_rule = line.split()[-1] == f"{rule}:"
            if in_rule:
                jobs.append({"wildcards": {}, "input": []})
        elif in_rule and line.strip().startswith("wildcards:"):
            jobs[-1]["wildcards"] = dict(item.split("=", 1) for item in line.split(":", 1)[1].strip().split(", "))
        elif in_rule and line.strip().startswith("input:"):
            jobs[-1]["input"] = line.split(":", 1)[1].strip().split(", ")
    return jobs


def planned_jobs(workdir: Path, configfile: Path, *args: str) -> dict[str, int]:
    """Rule -> number of jobs a dry run would execute (parsed from Snakemake's job stats table)."""
    result = snakemake(workdir, configfile, "--dry-run", *args)
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:", 1)[1]
    counts = {}
    for line in table.splitlines()[3:]:
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not match:
            break
        counts[match.group(1)] = int(match.group(2))
    counts.pop("total", None)
    return counts
