"""The tiny demo through `snakemake --executor slurm --profile profiles/slurm` on a one-node SLURM
cluster started on localhost (tests/slurm_cluster.py), checked against SLURM's accounting records
and against a local run of the same config.

Needs root and apt (.ci/install-slurm.sh installs slurm-wlm, slurmdbd, munge, mariadb-server). It
is skipped where those are missing, except in CI (CI=true), where it must run.
"""
from __future__ import annotations

import collections
import json
import os
import re

import numpy as np
import pytest

from tests.slurm_cluster import SlurmCluster, install_packages, missing_commands
from tests.workflow_runs import REPO, copy_run, planned_jobs, snakemake
from vplan_core.plan import group_name

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

IN_CI = os.environ.get("CI", "").lower() == "true"
SACCT_FIELDS = ["JobID", "JobName", "Comment", "State", "ExitCode", "Partition", "Account", "AllocCPUS",
                "ReqMem", "NodeList", "Elapsed"]


def unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"SLURM test cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if os.geteuid() != 0:
        unavailable("needs root: starts munged, slurmdbd, slurmctld and slurmd and installs packages with apt")
    if missing_commands():
        result = install_packages()
        if result.returncode != 0 or missing_commands():
            unavailable(f"apt could not install SLURM ({missing_commands()} missing):\n"
                        f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    with SlurmCluster(tmp_path_factory.mktemp("slurm-cluster")) as running:
        yield running


@pytest.fixture(scope="module")
def runs(cluster, tiny_demo, tmp_path_factory):
    """The session's local tiny demo run, and the same config under SLURM. The SLURM run starts
    from the local run's demo world and feature stores (resources/, results/<name>/features and
    the manifest) and runs VPLAN's own chain under SLURM, up to row ⑤'s evaluation: CLIP text
    embeddings, PLG labels, row ④'s training, PLD, row ⑤'s training and evaluation (logs and
    benchmarks its own). Rows ①-③, label quality and the report are more jobs of the same rules
    (train_row, evaluate_row) or plain CPU jobs; leaving them to the local run halves the test."""
    local, config = tiny_demo
    dataset = config["dataset"]["name"]
    method_outputs = [f"results/{dataset}/{stage}" for stage in ("plg", "labels", "models", "eval", "report")]
    workdir = copy_run(local, tmp_path_factory.mktemp("slurm-run"), leave_out=("logs", "benchmarks", *method_outputs))
    configfile = workdir / "config.yaml"
    group = f"seeds_{group_name(config['train']['seeds'])}"  # one batched job a row
    target = f"results/{dataset}/eval/han/row5_vplan/{group}.json"
    expected = planned_jobs(workdir, configfile, target)
    with pytest.MonkeyPatch.context() as patch:  # sbatch, sacct, ... find the test cluster
        for name, value in cluster.env.items():
            if os.environ.get(name) != value:
                patch.setenv(name, value)
        for name in set(os.environ) - set(cluster.env):
            patch.delenv(name)
        result = snakemake(workdir, configfile, "--executor", "slurm", "--profile", str(REPO / "profiles/slurm"),
                           "--slurm-init-seconds-before-status-checks", "2", "--latency-wait", "5", target)
    log = result.stdout + result.stderr
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
    sacct = cluster.run("sacct", "--allusers", "--allocations", "--parsable2", "--starttime", "1970-01-01",
                        f"--name={run_id}", f"--format={','.join(SACCT_FIELDS)}").stdout
    rows = [dict(zip(SACCT_FIELDS, line.split("|"))) for line in sacct.splitlines()[1:] if line]
    (workdir / "sacct.txt").write_text(sacct)
    print(f"\nsacct records of SLURM run {run_id}:\n{sacct}")
    return {"local": local, "slurm": workdir, "config": config, "group": group, "expected": expected, "rows": rows,
            "log": log, "run_id": run_id}


def test_jobs_ran_under_slurm(runs):
    rows, expected = runs["rows"], runs["expected"]
    assert rows, runs["log"][-4000:]
    for row in rows:
        assert row["JobName"] == runs["run_id"]
        assert row["State"] == "COMPLETED" and row["ExitCode"] == "0:0", row
        assert row["Account"] == "vplan", row
        assert row["Partition"] == "cpu", row  # train.device is cpu: no job asks for a GPU
    # one SLURM job (or array task) per Snakemake job; the plugin puts the rule in the comment
    ran = collections.Counter(re.match(r"rule_(\w+?)(?:_wildcards_.*)?$", row["Comment"]).group(1) for row in rows)
    submitted = {rule: count for rule, count in expected.items() if rule != "all"}  # `all` has nothing to run
    assert submitted == {"text_embeddings": 1, "plg_labels": 2, "train_row": 2, "pld_labels": 1, "evaluate_row": 1}
    assert ran == submitted


def test_outputs_equal_local_run(runs):
    name = runs["config"]["dataset"]["name"]
    local, slurm = runs["local"] / "results" / name, runs["slurm"] / "results" / name
    evaluation = f"eval/han/row5_vplan/{runs['group']}.json"
    assert json.loads((slurm / evaluation).read_text()) == json.loads((local / evaluation).read_text())
    labels = sorted(path.relative_to(slurm) for path in (slurm / "labels").rglob("*.npz"))
    assert {path.parts[1] for path in labels} == {"plg", "pld"}  # labels/plg/clip/<split>.npz, labels/pld/han/...
    preds = sorted(path.relative_to(slurm) for path in (slurm / "models").rglob("test_pred.npz"))
    assert {path.parts[1:3] for path in preds} == {("han", "row4_plg_rl"), ("han", "row5_vplan")}
    assert len(preds) == 2 * len(runs["config"]["train"]["seeds"])  # both rows, every seed
    for relative in labels + preds:
        with np.load(local / relative) as a, np.load(slurm / relative) as b:
            assert sorted(a.files) == sorted(b.files), relative
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{relative}:{key}")


def test_rule_logs_where_a_local_run_puts_them(runs):
    name = runs["config"]["dataset"]["name"]
    slurm, group = runs["slurm"], runs["group"]
    assert (slurm / f"logs/{name}/eval/han/row5_vplan/{group}.log").exists()
    assert (slurm / f"benchmarks/{name}/train/han/row5_vplan/{group}.tsv").exists()
    # the plugin deletes SLURM's job logs of successful jobs (and then empty folders): none failed
    assert not list((slurm / ".snakemake/slurm_logs").rglob("*.log"))
