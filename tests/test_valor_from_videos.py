"""VALOR++ from videos alone: on a finished tiny demo run, adding config/llp.yaml's VALOR++ recipe
(small) extracts CLAP feature maps from the demo videos (features.clap_maps: a LAION-CLAP file of
HTSAT-tiny's geometry with seeded random weights, written here; the demo's own CLAP is a two-stage
HTSAT whose maps have 256 rows, not VALOR's 64), trains VALOR++ on them and the demo CLIP's
features with the PLG labels (row valor_plg), and `vplan parse` runs its checkpoint on a demo
video. Nothing of the demo's own rows reruns."""
from __future__ import annotations

import copy
import json

import pytest
import torch
import yaml

from tests.test_clap_maps import write_laion_clap
from tests.workflow_runs import REPO, copy_run, planned_jobs, snakemake, write_config
from vplan_core.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def valor_run(tiny_demo, tmp_path_factory):
    source, config = tiny_demo
    workdir = copy_run(source, tmp_path_factory.mktemp("valor-from-videos"))
    before = {p: p.stat().st_mtime_ns for p in (workdir / "results/tiny").rglob("*") if p.is_file()}
    checkpoint, config_file = write_laion_clap(workdir / "clap")
    changed = copy.deepcopy(config)
    recipe = yaml.safe_load((REPO / "config/llp.yaml").read_text())["models"]["valor_plus_plus"]
    recipe.update(epochs=2, batch_size=4, warmup_epochs=1, rows=["valor_plg"],
                  kwargs=recipe["kwargs"] | {"hidden_dim": 16, "nhead": 2, "ff_dim": 16, "num_layers": 1})
    changed["models"] = {"valor_plus_plus": recipe}
    changed["train"]["models"] = ["han", "valor_plus_plus"]
    changed["features"]["clap_maps"] = {"checkpoint": str(checkpoint), "fusion": True, "config": str(config_file)}
    configfile = write_config(workdir, changed, "valor.yaml")
    planned = planned_jobs(workdir, configfile)
    snakemake(workdir, configfile, "--cores", "2")
    return workdir, configfile, planned, before


def test_valor_plus_plus_trains_on_maps_extracted_from_the_videos(valor_run):
    workdir, configfile, planned, before = valor_run
    results = workdir / "results/tiny"
    # the maps' settings, each shard's extraction (only clap_maps is extracted anew), the manifest
    # (it accounts for every store), VALOR++'s row
    assert planned == {"extraction_settings": 1, "extract_features": 2, "manifest": 1, "train_row": 1,
                       "evaluate_row": 1, "report": 1, "all": 1}
    changed = {p.relative_to(results) for p, mtime in before.items() if p.stat().st_mtime_ns != mtime}
    stores = {p for p in changed if p.parts[0] == "features"}
    assert stores and all(p.name == ".snakemake_timestamp" for p in stores)  # the demo's stores are kept
    assert {p.parts[0] for p in changed - stores} == {"report", "manifest.tsv", "manifest_summary.json"}

    import zarr
    for shard in ("0000", "0001"):
        attrs = dict(zarr.open_group(str(results / f"features/clap_maps/shard_{shard}.zarr"), mode="r").attrs)
        assert attrs["shape"] == [64, 64] and attrs["weights"].endswith("630k-tiny-fusion.pt")
        assert attrs["sampling"]["clip"].startswith("VALOR")
    job = results / "models/valor_plus_plus/valor_plg/seeds_0-1/seed_0"
    payload = torch.load(job / "model.pt", weights_only=True)
    assert payload["train_config"]["inputs"] == {"audio": "clap_maps", "visual_2d": "clip", "visual_3d": "r2plus1d"}
    assert {k: payload["model_kwargs"][k] for k in ("audio_dim", "audio_maps")} == {"audio_dim": 64, "audio_maps": True}
    evaluation = json.loads((results / "eval/valor_plus_plus/valor_plg/seeds_0-1.json").read_text())
    assert evaluation["seeds"] == [0, 1] and len(evaluation["per_seed"]) == 2
    assert planned_jobs(workdir, configfile) == {}


def test_parse_runs_the_valor_plus_plus_checkpoint_on_a_demo_video(valor_run, monkeypatch):
    workdir, configfile, _, _ = valor_run
    monkeypatch.chdir(workdir)  # the config's paths are relative to the run's folder
    video = sorted((workdir / "resources/tiny/videos").rglob("*.mp4"))[0]
    checkpoint = workdir / "results/tiny/models/valor_plus_plus/valor_plg/seeds_0-1/seed_0/model.pt"
    assert main(["parse", str(video), "--checkpoint", str(checkpoint), "--config", str(configfile),
                 "--out", str(workdir / "parsed")]) == 0
    result = json.loads((workdir / "parsed" / f"{video.stem}.events.json").read_text())
    assert result["windows"] == 1 and isinstance(result["events"], list)
    assert (workdir / "parsed" / f"{video.stem}.timeline.png").stat().st_size > 0
