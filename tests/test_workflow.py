"""End to end: the real Snakemake workflow on a tiny generated demo, then rerun behaviour."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from tests.workflow_runs import copy_run, planned_jobs, planned_wildcards, snakemake, write_config
from vplan_core.evaluation.label_quality import study_key
from vplan_core.feature_store import read_store
from vplan_core.features.weights import sha256_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(tiny_demo, tmp_path_factory):
    """A copy of the session's finished tiny demo run, for these tests to replan and edit."""
    source, config = tiny_demo
    workdir = copy_run(source, tmp_path_factory.mktemp("tiny"))
    return workdir, config, workdir / "config.yaml"


def test_outputs_and_report(tiny_run, tiny_demo):
    workdir, config, _ = tiny_run
    origin = tiny_demo[0]  # where the stores were made (tiny_run is a copy): they name its files
    results = workdir / "results/tiny"
    report = json.loads((results / "report/report.json").read_text())
    assert set(report["ablation"]) == {"row1_han", "row2_plg", "row3_plg_segbce", "row4_plg_rl", "row5_vplan",
                                       "row6_plg_av", "row7_plg_av_pld", "row6_plg_av_rl", "valor_plg"}
    audio = report["label_quality"]["audio"]["row6_plg_av"]  # rows 6-7: CLAP's labels against the dense audio truth
    assert set(audio["video_level"]) == {"video_label", "plg", "pld"} and audio["videos"] == 4
    assert set(report["label_quality"]["visual"]) == {"row4_plg_rl", "row6_plg_av"}
    for seed in (0, 1):  # PLD on both modalities, from each seed's row-6 model
        for name in ("train_visual.npz", "train_audio.npz"):
            assert (results / f"labels/pld/han/row6_plg_av/seeds_0-1/seed_{seed}/{name}").is_file()
    for scores in report["ablation"].values():
        for level in ("segment_level", "event_level"):
            assert all(0.0 <= v <= 100.0 for v in scores[level].values())
    assert report["manifest"]["by_status"] == {"used": 18, "skipped": 0, "missing": 0}
    for name in ("report.md", "per_class_visual_f1.png", "timelines.png"):
        assert (results / "report" / name).stat().st_size > 0
    for seed in (0, 1):  # both seeds of the tiny config, trained as one batched job
        pred = np.load(results / f"models/han/row5_vplan/seeds_0-1/seed_{seed}/test_pred.npz")
        assert pred["visual_prob"].shape == (4, 10, 25)
        assert (results / f"labels/pld/han/row4_plg_rl/seeds_0-1/seed_{seed}/train_visual.npz").is_file()
    row5 = report["ablation"]["row5_vplan"]
    assert [entry["seed"] for entry in row5["per_seed"]] == [0, 1]
    values = [entry["segment_level"]["visual"] for entry in row5["per_seed"]]
    assert row5["segment_level"]["visual"] == pytest.approx(np.mean(values))
    assert row5["std"]["segment_level"]["visual"] == pytest.approx(np.std(values, ddof=1))
    visual = report["label_quality"]["visual"]["row4_plg_rl"]  # row 5's labels: PLD with row 4's models
    assert set(visual["video_level"]["pld"]) == {"precision", "recall", "std", "per_seed"}
    study = visual["pld_study"]  # PLD's K and alpha on val, from the stage-1 models
    assert len(study) == len(config["pld"]["study"]["k"]) * len(config["pld"]["study"]["alpha"])
    configured = study[study_key(config["pld"]["k"], config["pld"]["alpha"])]
    assert configured["segment_f"] == pytest.approx(visual["segment_event"]["pld"]["segment_f"])
    for rule in ("demo_videos", "extract_features", "train_row", "report"):
        assert list((workdir / "benchmarks/tiny").rglob("*.tsv")), rule
    for backbone in ("vggish", "cnn2d", "r2plus1d"):  # pretrained in the demo world, loaded as files
        weights = (origin / f"resources/tiny/backbones/{backbone}.pth").resolve()
        store = read_store(results / f"features/{backbone}/shard_0000.zarr")[2]
        assert store["weights"] == str(weights) and store["weights_sha256"] == sha256_file(weights)
        assert (workdir / f"benchmarks/tiny/demo_backbones/{backbone}.tsv").is_file()
    assert "①" in (results / "report/report.md").read_text()


def test_second_run_does_nothing(tiny_run):
    workdir, _, configfile = tiny_run
    assert planned_jobs(workdir, configfile) == {}


# Jobs downstream of new visual PLG labels: rows 2-4 and 6 (with row 6 as first built and VALOR's
# loss on PLG labels) train again, PLD (of row 4, and of row 6 on both modalities) reruns, rows 5
# and 7 retrain, then evaluation, the three label-quality jobs (row 4's PLD on visual labels, row
# 6's on visual and audio) and the report (one job per row and seed group: the tiny config
# trains seeds 0 and 1 together).
PLD_BOTH = {"pld_labels": 2, "label_quality": 3, "report": 1, "all": 1}
AFTER_LABELS = {"plg_labels": 2, "train_row": 8, "evaluate_row": 8, **PLD_BOTH}
AFTER_PLD = {"train_row": 2, "evaluate_row": 2, **PLD_BOTH}
ALL_TRAINING = {"train_row": 9, "evaluate_row": 9, **PLD_BOTH}
# New audio labels reach the rows on them (6, 6 as first built, VALOR's loss), row 6's PLD (on
# both modalities), row 7 and that PLD's quality only.
AFTER_AUDIO_LABELS = {"plg_labels": 2, "train_row": 4, "pld_labels": 1, "evaluate_row": 4, "label_quality": 2,
                      "report": 1, "all": 1}
SHARDS = 2  # 18 tiny videos, 9 a shard

RERUN_MATRIX = [
    # one extraction job a shard for every feature; the settings files say which features changed
    ("sampling.fps", 4, {"extraction_settings": 2, "extract_features": SHARDS, "manifest": 1, **ALL_TRAINING}),
    ("plg.clip.prompt", "P4", {"text_embeddings": 1, **AFTER_LABELS}),
    ("plg.clip.tau", 0.05, AFTER_LABELS),
    ("rl.lambda", 0.25, {"train_row": 6, "evaluate_row": 6, **PLD_BOTH}),  # rows 3-7, 6 as first built
    ("rl.distance", "l1", {"train_row": 5, "evaluate_row": 5, **PLD_BOTH}),  # rows 4-7, 6 as first built
    ("plg.clap.tau", 0.05, AFTER_AUDIO_LABELS),
    ("plg.clap.rule", "thresholds", AFTER_AUDIO_LABELS),
    ("demo.clap_training.epochs", 2, {"demo_clap": 1, "extraction_settings": 1, "extract_features": SHARDS, "manifest": 1,
                                      "text_embeddings": 1, **AFTER_AUDIO_LABELS}),
    ("pld.k", 3, AFTER_PLD),
    ("pld.alpha", 5.0, AFTER_PLD),
    ("pld.study", {"k": [5], "alpha": [10.0]}, {"label_quality": 3, "report": 1, "all": 1}),
    ("train.lr", 1.0e-4, ALL_TRAINING),
    ("train.seeds", [1, 2], ALL_TRAINING),
    ("train.seeds", [0, 1, 2], ALL_TRAINING),  # one group of all seeds: 0-1-2 replaces 0-1
    ("train.seeds_per_job", 1, {key: 2 * n if key in ("train_row", "pld_labels", "evaluate_row", "label_quality")
                                else n for key, n in ALL_TRAINING.items()}),
    # a backbone's pretraining reaches that backbone, its extraction (and the manifest summary of
    # feature skips) and all training, not PLG; R(2+1)D, inflated from the 2D CNN, follows it
    ("demo.backbone_training.cnn2d.epochs", 2, {"demo_backbones": 2, "extraction_settings": 2, "extract_features": SHARDS,
                                                "manifest": 1, **ALL_TRAINING}),
    ("demo.backbone_training.vggish.lr", 2.0e-4, {"demo_backbones": 1, "extraction_settings": 1, "extract_features": SHARDS,
                                                  "manifest": 1, **ALL_TRAINING}),
    ("demo.backbone_training.r2plus1d.seed", 1, {"demo_backbones": 1, "extraction_settings": 1, "extract_features": SHARDS,
                                                 "manifest": 1, **ALL_TRAINING}),
    # the extractor's input size is the size its demo backbone is pretrained at: both rerun (and
    # R(2+1)D's, whose teacher reads that size; the job itself would then stop: it needs twice its own)
    ("features.cnn2d.size", 48, {"demo_backbones": 2, "extraction_settings": 2, "extract_features": SHARDS, "manifest": 1,
                                 **ALL_TRAINING}),
]


@pytest.mark.parametrize("key, value, expected", RERUN_MATRIX, ids=[row[0] for row in RERUN_MATRIX])
def test_rerun_matrix(tiny_run, key, value, expected):
    """Each parameter reaches only the rules that use it: a dry run plans exactly these jobs."""
    workdir, config, _ = tiny_run
    changed = copy.deepcopy(config)
    *parents, name = key.split(".")
    node = changed
    for part in parents:
        node = node[part]
    node[name] = value
    assert planned_jobs(workdir, write_config(workdir, changed, f"{key}.yaml")) == expected


COMMAND_LINE = ["pld.alpha", "pld.k", "plg.clip.tau", "rl.lambda", "train.lr", "train.seeds"]


@pytest.mark.parametrize("key, value, expected", [row for row in RERUN_MATRIX if row[0] in COMMAND_LINE],
                         ids=[f"{row[0]}={row[1]}" for row in RERUN_MATRIX if row[0] in COMMAND_LINE])
def test_rerun_matrix_from_the_command_line(tiny_run, key, value, expected):
    """`--config 'pld={alpha: 7.5}'` (Snakemake passes nested values as strings) is typed by the
    schema and replans exactly what the same change in the config file does."""
    workdir, _, configfile = tiny_run
    section, *names = key.split(".")
    nested = str(value)
    for name in reversed(names):
        nested = f"{{{name}: {nested}}}"
    assert planned_jobs(workdir, configfile, "--config", f"{section}={nested}") == expected


# Settings that change how fast a job runs, never a value it writes (the inference batch size of
# every extracted feature, CLIP's and CLAP's text side included): a dry run plans nothing.
MACHINE_ONLY = [("features.cnn2d.batch_size", 64), ("features.vggish.batch_size", 32),
                ("features.r2plus1d.batch_size", 8), ("features.clip.batch_size", 16),
                ("features.clap.batch_size", 16)]


@pytest.mark.parametrize("key, value", MACHINE_ONLY, ids=[row[0] for row in MACHINE_ONLY])
def test_machine_settings_rerun_nothing(tiny_run, key, value):
    workdir, config, _ = tiny_run
    changed = copy.deepcopy(config)
    *parents, name = key.split(".")
    node = changed
    for part in parents:
        node = node[part]
    assert node[name] != value  # a change
    node[name] = value
    assert planned_jobs(workdir, write_config(workdir, changed, f"{key}.yaml")) == {}


def test_a_batch_size_from_the_command_line_reruns_nothing(tiny_run):
    workdir, config, configfile = tiny_run
    assert config["features"]["cnn2d"]["batch_size"] != 64
    assert planned_jobs(workdir, configfile, "--config", "features={cnn2d: {batch_size: 64}}") == {}


def test_command_line_overrides_keep_and_check_types(tiny_run):
    workdir, _, configfile = tiny_run
    assert planned_jobs(workdir, configfile, "--config", "pld={alpha: 10.0}") == {}  # the file's value
    assert planned_jobs(workdir, configfile, "--config", "train={seeds: [0, 1]}") == {}
    result = snakemake(workdir, configfile, "--dry-run", "--config", "pld={alpha: ten}", check=False)
    assert result.returncode != 0
    assert "config key 'pld.alpha': 'ten' (given with --config) is not a number" in result.stdout + result.stderr


@pytest.mark.parametrize("seeds, per_job, planned", [
    ([0, 1, 2, 3], 2, {"2-3"}),  # a whole new group: seeds 0-1 keep their jobs
    ([0, 1, 2], None, {"0-1-2"}),  # one group of all seeds (the default): the group is new
    ([0, 1], 1, {"0", "1"}),
])
def test_a_seed_list_change_reruns_only_the_changed_seed_groups(tiny_run, seeds, per_job, planned):
    workdir, config, _ = tiny_run
    changed = copy.deepcopy(config)
    changed["train"]["seeds"] = seeds
    if per_job:
        changed["train"]["seeds_per_job"] = per_job
    configfile = write_config(workdir, changed, f"seeds-{len(seeds)}-{per_job}.yaml")
    for rule in ("train_row", "evaluate_row"):
        assert planned_wildcards(workdir, configfile, rule, "seeds") == planned
    assert planned_wildcards(workdir, configfile, "pld_labels", "seeds") == planned


def test_editing_the_report_template_reruns_only_the_report(tiny_run):
    workdir, config, configfile = tiny_run
    template = workdir / config["report"]["template"]
    original = template.read_text()
    try:
        template.write_text(original + "\nEdited by a test.\n")
        assert planned_jobs(workdir, configfile) == {"report": 1, "all": 1}
    finally:
        template.write_text(original)


def test_one_features_settings_change_reextracts_that_feature_alone(tiny_run, tmp_path):
    """Every feature of a shard comes from one extraction job; when CLIP's settings change that
    job runs again, rewrites CLIP's stores and keeps the others' as they were."""
    from vplan_core.paths import RunPaths

    workdir, config, _ = tiny_run
    run = copy_run(workdir, tmp_path / "run")
    paths = RunPaths(config["dataset"]["name"])
    shards = sorted(p.name for p in (run / paths.results / "features" / "clip").glob("shard_*.zarr"))
    stores = {feature: [run / paths.results / "features" / feature / shard for shard in shards]
              for feature in ("vggish", "cnn2d", "r2plus1d", "clip", "clap")}
    before = {feature: [(store / "zarr.json").stat().st_mtime_ns for store in found] for feature, found in stores.items()}
    changed = copy.deepcopy(config)
    changed["features"]["clip"]["size"] = config["features"]["clip"]["size"] - 24
    configfile = write_config(run, changed, "clip_size.yaml")
    targets = [str(store.relative_to(run)) for store in stores["clip"]]
    assert planned_jobs(run, configfile, *targets) == {"extraction_settings": 1, "extract_features": SHARDS}
    snakemake(run, configfile, "--cores", "2", *targets)
    for feature, found in stores.items():
        after = [(store / "zarr.json").stat().st_mtime_ns for store in found]
        assert (after != before[feature]) == (feature == "clip"), feature
    assert all(read_store(store)[2]["sampling"]["frame_size"] == changed["features"]["clip"]["size"]
               for store in stores["clip"])
    logs = sorted((run / paths.logs / "features").glob("shard_*.log"))
    assert logs and all(log.read_text().count("'kept': True") == len(stores) - 1 for log in logs)
