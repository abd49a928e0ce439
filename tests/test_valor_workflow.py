"""config/llp.yaml's VALOR parsers from VALOR's release alone: official HAN features for a subset of
real LLP ids, no video, and VALOR's files in their published layouts (CLIP/features 10 x 768,
CLAP/features 64 x 768, CLIP/ and CLAP/segment_pseudo_labels 10 x 25). The dry run plans VALOR,
VALOR+ and VALOR++ (each its valor_released row and the PLD of its labels by its own models);
the run trains VALOR++ on the CLAP maps and CLIP features to its evaluation (1 seed, 2 epochs)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.test_llp_workflow import LAYOUT, llp_config, subset_annotations
from tests.workflow_runs import planned_jobs, planned_rule_jobs, snakemake, write_config
from vplan_core.data.annotations import load_split
from vplan_core.data.description import SPLITS

VALOR_PARSERS = ("valor", "valor_plus", "valor_plus_plus")


def valor_release_config(tmp_path: Path) -> dict:
    """config/llp.yaml on a 64-video subset of LLP with every file of the features-only route."""
    subset_annotations(tmp_path / "annotations")
    config = llp_config(tmp_path, annotations=tmp_path / "annotations", videos=False, official=True, valor=True)
    rng = np.random.default_rng(0)
    release = tmp_path / "valor"
    for name in ("CLIP", "CLAP"):
        for sub in ("features", "segment_pseudo_labels"):
            (release / name / sub).mkdir(parents=True)
    for split in (load_split(tmp_path / "annotations", name) for name in SPLITS):
        for vid, weak in zip(split.video_ids, split.weak_labels):
            for sub, shape in LAYOUT.values():
                np.save(tmp_path / "official_features" / sub / f"{vid}.npy", rng.random(shape, dtype=np.float32))
            clip = rng.standard_normal((10, 768)).astype(np.float32)
            np.save(release / "CLIP/features" / f"{vid}.npy", clip / np.linalg.norm(clip, axis=1, keepdims=True))
            np.save(release / "CLAP/features" / f"{vid}.npy", rng.standard_normal((64, 768)).astype(np.float32))
            for name in ("CLIP", "CLAP"):  # VALOR's labels lie within the video label
                labels = (rng.random((10, 25)) < 0.6) * weak
                np.save(release / name / "segment_pseudo_labels" / f"{vid}.npy", labels.astype(np.int64))
    config["dataset"].update(clip_features=str(release / "CLIP/features"), clap_feature_maps=str(release / "CLAP/features"),
                             released_labels={"visual": str(release / "CLIP"), "audio": str(release / "CLAP")},
                             shard_size=25)
    return config


def test_llp_plans_valor_valor_plus_and_valor_plus_plus_from_the_release(tmp_path):
    configfile = write_config(tmp_path, valor_release_config(tmp_path))
    jobs = planned_jobs(tmp_path, configfile)
    trained = planned_rule_jobs(tmp_path, configfile, "train_row")
    by_parser = {}
    for job in trained:
        by_parser.setdefault(job["wildcards"]["model"], set()).add(job["wildcards"]["row"])
    for parser in VALOR_PARSERS:
        assert by_parser[parser] == {"valor_released", "valor_released_pld"}
    assert {job["wildcards"]["model"] for job in planned_rule_jobs(tmp_path, configfile, "pld_labels")} == {
        "han", *VALOR_PARSERS}  # each VALOR parser's own valor_released refines its labels
    stores = {parser: {Path(path).parent.name for job in trained if job["wildcards"]["model"] == parser
                       for path in job["input"] if path.endswith(".zarr")} for parser in VALOR_PARSERS}
    assert stores["valor"] == stores["valor_plus"] == {"vggish", "cnn2d", "r2plus1d"}
    assert stores["valor_plus_plus"] == {"clap_maps", "clip", "r2plus1d"}
    assert jobs["import_feature_maps"] == jobs["import_segment_features"] == 3  # 3 shards of 25: clap_maps, clip
    assert jobs["import_official_features"] == 9 and "extract_features" not in jobs
    assert jobs["import_released_labels"] == 4  # visual and audio, train and val
    # HAN every row it can (11), MGN and MM-Pyramid Table V's (3 each), VALOR's three parsers 2 each
    assert jobs["train_row"] == jobs["evaluate_row"] == 11 + 2 * 3 + 3 * 2
    assert jobs["pld_labels"] == 4 + 3 and jobs["report"] == 1


@pytest.mark.slow
def test_valor_plus_plus_trains_on_the_released_maps_and_clip_features(tmp_path):
    config = valor_release_config(tmp_path)
    config["train"].update(device="cpu", seeds=[0])
    config["models"]["valor_plus_plus"].update(epochs=2, warmup_epochs=1)
    targets = [f"results/llp/eval/valor_plus_plus/{row}/seeds_0.json" for row in ("valor_released", "valor_released_pld")]
    snakemake(tmp_path, write_config(tmp_path, config), "--cores", "2", *targets)
    results = tmp_path / "results/llp"

    import zarr
    attrs = dict(zarr.open_group(str(results / "features/clap_maps/shard_0000.zarr"), mode="r").attrs)
    assert attrs["shape"] == [64, 768] and attrs["sampling"]["source"] == str((tmp_path / "valor/CLAP/features").resolve())
    assert not (results / "features/vggish").exists() and not (results / "features/cnn2d").exists()
    job = results / "models/valor_plus_plus/valor_released_pld/seeds_0/seed_0"
    payload = torch.load(job / "model.pt", weights_only=True)
    assert payload["family"] == "valor"
    assert payload["train_config"]["inputs"] == {"audio": "clap_maps", "visual_2d": "clip", "visual_3d": "r2plus1d"}
    assert {k: payload["model_kwargs"][k] for k in ("audio_dim", "visual_2d_dim", "hidden_dim", "num_layers", "audio_maps")} == {
        "audio_dim": 768, "visual_2d_dim": 768, "hidden_dim": 256, "num_layers": 4, "audio_maps": True}
    history = json.loads((job / "history.json").read_text())
    assert [epoch["lr"] for epoch in history["epochs"]] == [3.0e-4, 3.0e-6]  # warm-up 1 epoch, then the cosine's end
    assert history["videos"]["train"] == {"used": 40, "missing": 0}
    with np.load(results / "labels/pld/valor_plus_plus/valor_released/seeds_0/seed_0/train_audio.npz") as refined:
        assert len(refined["video_ids"]) == 40  # PLD of the released audio labels by VALOR++'s own models
    for row in ("valor_released", "valor_released_pld"):
        evaluation = json.loads((results / f"eval/valor_plus_plus/{row}/seeds_0.json").read_text())
        assert evaluation["per_seed"][0]["videos"] == {"evaluated": 12, "in_split": 12}
