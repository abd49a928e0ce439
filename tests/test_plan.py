"""vplan_core.plan: a config to jobs, directly (the rerun matrix is the workflow-level test)."""
from __future__ import annotations

import copy
import re

import pytest
import yaml

from tests.workflow_runs import REPO
from vplan_core.method.ablation import ROWS
from vplan_core.paths import RunPaths
from vplan_core.plan import (EXTRACTION_MACHINE_KEYS, LABELLED_MODALITIES, demo_backbone_settings, demo_backbone_teacher,
                             extraction_inputs, extraction_settings, feature_sources, group_name, group_seeds,
                             input_problems, model_family, seed_groups, summary_line, train_settings, weight_paths)

DEMO = yaml.safe_load((REPO / "config.yaml").read_text())
LLP = yaml.safe_load((REPO / "config/llp.yaml").read_text())


def llp(**dataset) -> dict:
    """config/llp.yaml with the dataset's sources replaced (None removes a key), without VALOR's
    release and the parsers that need it."""
    config = copy.deepcopy(LLP)
    for key in ("videos", "official_features", "clip_features", "clap_feature_maps", "released_labels"):
        config["dataset"].pop(key, None)
    config["dataset"].update({k: v for k, v in dataset.items() if v is not None})
    config["train"]["models"] = [m for m in config["train"]["models"] if model_family(config, m) != "valor"]
    return config


def test_seed_groups_keep_list_order_and_name_their_folders():
    assert seed_groups([3, 1, 2]) == [[3, 1, 2]]
    assert seed_groups([0, 1, 2, 3, 4], per_job=2) == [[0, 1], [2, 3], [4]]
    assert [group_name(g) for g in seed_groups([0, 1, 2, 3], 2)] == ["0-1", "2-3"]
    assert group_seeds("10-2-7") == [10, 2, 7]
    for bad in ([], [1, 1]):
        with pytest.raises(ValueError, match="train.seeds"):
            seed_groups(bad)


@pytest.mark.parametrize("dataset, extracted, imported, rows", [
    ({"videos": "v"}, ("vggish", "cnn2d", "r2plus1d", "clip"), {}, 5),
    ({"official_features": "o"}, (), {f: "dataset.official_features" for f in ("vggish", "cnn2d", "r2plus1d")}, 1),
    ({"official_features": "o", "videos": "v"}, ("clip",),
     {f: "dataset.official_features" for f in ("vggish", "cnn2d", "r2plus1d")}, 5),
    ({"official_features": "o", "clip_features": "c"}, (),
     {**{f: "dataset.official_features" for f in ("vggish", "cnn2d", "r2plus1d")}, "clip": "dataset.clip_features"}, 5),
    ({"videos": "v", "clip_features": "c"}, ("vggish", "cnn2d", "r2plus1d"), {"clip": "dataset.clip_features"}, 5),
])
def test_feature_sources_and_the_rows_they_allow(dataset, extracted, imported, rows):
    sources = feature_sources(llp(**dataset), ROWS)
    assert sources.extracted == extracted and sources.imported == imported
    visual_rows = {row for row, spec in ROWS.items()  # plg.clap is off in llp.yaml; no released labels
                   if "audio" not in spec.labels and not spec.released_modalities
                   and not spec.modality_labels}  # LLP has no modality-wise video labels
    assert len(sources.rows) == rows and set(sources.rows) | set(sources.skipped_rows) == visual_rows
    if rows == 1:
        assert sources.rows == ("row1_han",)
        assert all("dataset.clip_features" in why for why in sources.skipped_rows.values())


@pytest.mark.parametrize("dataset, clap, rows_6_7", [
    ({"videos": "v"}, "extract_features", "run"),
    ({"official_features": "o", "clip_features": "c", "clap_features": "a"}, "import_segment_features", "run"),
    ({"official_features": "o", "clip_features": "c"}, None, "skipped"),
    ({"official_features": "o"}, None, "skipped"),
])
def test_audio_plg_adds_the_clap_store_and_rows_6_7(dataset, clap, rows_6_7):
    config = llp(**dataset)
    assert feature_sources(config, ROWS).rows == tuple(r for r in feature_sources(config, ROWS).rows
                                                       if "audio" not in ROWS[r].labels)  # off: no audio rows
    config["plg"]["clap"] = {"enabled": True}
    sources = feature_sources(config, ROWS)
    assert (sources.producer("clap") if clap else "clap" not in sources.features) == (clap or True)
    audio_rows = {row for row, spec in ROWS.items() if "audio" in spec.labels and not spec.released_modalities}
    if rows_6_7 == "run":
        assert audio_rows <= set(sources.rows) and "clap" in sources.pseudo_label_features
    else:
        assert audio_rows <= set(sources.skipped_rows) and not audio_rows & set(sources.rows)


@pytest.mark.parametrize("dataset, producers, manifest", [
    ({"videos": "v"}, {"vggish": "extract_features", "clip": "extract_features"}, "probe_shard"),
    ({"official_features": "o"}, {"vggish": "import_official_features"}, "probe_official_shard"),
    ({"official_features": "o", "videos": "v"}, {"cnn2d": "import_official_features", "clip": "extract_features"},
     "probe_official_shard"),
    ({"videos": "v", "clip_features": "c"}, {"r2plus1d": "extract_features", "clip": "import_segment_features"},
     "probe_shard"),
])
def test_one_producer_for_each_store(dataset, producers, manifest):
    """The rule that makes each store and the manifest is the plan's answer (the rules define a
    producer only when some store names it)."""
    sources = feature_sources(llp(**dataset), ROWS)
    assert {feature: sources.producer(feature) for feature in producers} == producers
    assert sources.manifest_producer == manifest
    assert sources.probes_videos == ("videos" in dataset)
    assert sources.released == (("clip",) if "clip_features" in dataset else ())


def test_demo_backbone_settings_read_the_extractor_and_the_teacher():
    """A backbone is pretrained at its extractor's size; the inflated R(2+1)D gets its teacher's
    file and size as the teacher's extractor reads them."""
    cnn2d = demo_backbone_settings(DEMO, "cnn2d")
    assert cnn2d == {**DEMO["demo"]["backbone_training"]["cnn2d"], "size": DEMO["features"]["cnn2d"]["size"],
                     "arch": DEMO["features"]["cnn2d"]["backbone"]}
    r2 = demo_backbone_settings(DEMO, "r2plus1d")
    assert r2["size"] == DEMO["features"]["r2plus1d"]["size"] and "arch" not in r2
    assert (r2["inflate_from"], r2["teacher_size"]) == (DEMO["features"]["cnn2d"]["weights"],
                                                        DEMO["features"]["cnn2d"]["size"])
    assert demo_backbone_teacher(DEMO, "r2plus1d") == [DEMO["features"]["cnn2d"]["weights"]]
    assert demo_backbone_teacher(DEMO, "vggish") == [] and "size" not in demo_backbone_settings(DEMO, "vggish")


def test_extraction_reads_only_its_own_files_and_sampling_keys():
    assert extraction_inputs(DEMO, "clip") == [DEMO["features"]["clip"]["checkpoint"],
                                               DEMO["features"]["clip"]["config_file"]]
    assert extraction_inputs(DEMO, "cnn2d") == [DEMO["features"]["cnn2d"]["weights"]]
    config = copy.deepcopy(DEMO)
    config["features"]["vggish"].update(weights="random:0", pca=True, pca_params="pca.pth")
    assert extraction_inputs(config, "vggish") == ["pca.pth"]
    assert set(extraction_settings(DEMO, "clip")) - set(DEMO["features"]["clip"]) == {"seconds"}
    assert set(extraction_settings(DEMO, "vggish")) - set(DEMO["features"]["vggish"]) == {"audio_rate", "seconds"}


def test_paths_put_every_family_in_a_folder_of_its_own():
    paths = RunPaths("demo")
    assert paths.model_dir("row4_plg_rl", "0-1", "han") == "results/demo/models/han/row4_plg_rl/seeds_0-1"
    assert paths.model_dir("row4_plg_rl", "0-1", "mgn") == "results/demo/models/mgn/row4_plg_rl/seeds_0-1"
    assert paths.evaluation("{row}", "{seeds}", "{model}") == "results/demo/eval/{model}/{row}/seeds_{seeds}.json"
    assert paths.resume_file("row1_han", "0", "han") == "results/demo/models/han/row1_han/seeds_0.resume.pt"
    assert paths.pld_dir("han", "row4_plg_rl", "0-1") == "results/demo/labels/pld/han/row4_plg_rl/seeds_0-1"
    assert paths.plg_labels("clap", "val") == "results/demo/labels/plg/clap/val.npz"
    assert paths.log("train/{row}/seeds_{seeds}") == "logs/demo/train/{row}/seeds_{seeds}.log"


def test_videos_win_the_clip_store_only_when_asked():
    config = llp(videos="v", clip_features="c")
    config["features"]["clip"]["source"] = "videos"
    assert "clip" in feature_sources(config, ROWS).extracted
    assert feature_sources(DEMO, ROWS).extracted == ("vggish", "cnn2d", "r2plus1d", "clip", "clap")  # audio PLG on
    with pytest.raises(ValueError, match="'features.clip.source' is 'videos' but dataset.videos is not set"):
        feature_sources(llp(official_features="o", clip_features="c") | {"features": config["features"]}, ROWS)
    with pytest.raises(ValueError, match="dataset.videos .* and/or"):
        feature_sources(llp(clip_features="c"), ROWS)


def test_extraction_settings_carry_only_what_the_feature_uses():
    assert extraction_settings(LLP, "vggish") == {**LLP["features"]["vggish"], "audio_rate": 16000, "seconds": 10}
    assert extraction_settings(LLP, "cnn2d") == {**LLP["features"]["cnn2d"], "fps": 8, "seconds": 10}
    assert extraction_settings(LLP, "clip") == {**LLP["features"]["clip"], "seconds": 10}


@pytest.mark.parametrize("feature", ["vggish", "cnn2d", "r2plus1d", "clip", "clap"])
def test_extraction_params_leave_out_the_machine_settings(feature):
    """The rule's params (machine=False) are the settings without the batch size, which the rule
    passes as a resource: a new batch size changes no param."""
    full = extraction_settings(LLP, feature)
    assert EXTRACTION_MACHINE_KEYS == ("batch_size",) and "batch_size" in full
    params = extraction_settings(LLP, feature, machine=False)
    assert params == {key: value for key, value in full.items() if key != "batch_size"}
    config = copy.deepcopy(LLP)
    config["features"][feature]["batch_size"] += 1
    assert extraction_settings(config, feature, machine=False) == params
    assert extraction_settings(config, feature) != full


def test_train_settings_name_only_the_loss_constants_a_row_uses():
    han, rl = train_settings(DEMO, "han", "han"), train_settings(DEMO, "plg_rl", "han")
    assert han["loss"] == {"kind": "han", "smoothing_audio": 1.0, "smoothing_visual": 0.9}
    assert rl["loss"] == {"kind": "plg_rl", "smoothing_audio": 1.0, "rl_lambda": 0.5, "rl_distance": "bce",
                          "rl_eps": 1.0e-6}
    assert train_settings(DEMO, "plg_segbce", "han")["loss"]["rl_lambda"] == 0.5
    assert not {"device", "seeds", "seeds_per_job", "smoothing_audio"} & set(rl)
    assert rl["epochs"] == DEMO["train"]["epochs"] and rl["model"] == "han" and rl["d_model"] == DEMO["train"]["d_model"]
    mgn = train_settings(DEMO, "plg_rl", "mgn")  # HAN's width is no MGN setting; MGN's recipe overrides train.*
    assert "d_model" not in mgn and mgn["epochs"] == DEMO["models"]["mgn"]["epochs"]
    assert mgn["model_kwargs"] == DEMO["models"]["mgn"]["kwargs"] and "kwargs" not in mgn


def test_weight_paths_are_the_files_a_run_loads():
    official_only = feature_sources(llp(official_features="o"), ROWS)
    assert weight_paths(llp(official_features="o"), official_only) == {}
    features_only = llp(official_features="o", clip_features="c")
    paths = weight_paths(features_only, feature_sources(features_only, ROWS))
    assert list(paths) == ["features.clip.checkpoint"]  # the text tower of PLG
    videos = llp(videos="v")
    paths = weight_paths(videos, feature_sources(videos, ROWS))
    assert set(paths) == {"features.vggish.weights", "features.vggish.pca_params", "features.cnn2d.weights",
                          "features.r2plus1d.weights", "features.clip.checkpoint"}
    assert paths["features.cnn2d.weights"][1].endswith("resnet152-394f9c45.pth")
    assert weight_paths(DEMO, feature_sources(DEMO, ROWS)) == {}  # made by the demo's own rules


def test_input_problems_name_their_config_keys(tmp_path):
    config = llp(videos=str(tmp_path / "nowhere"), official_features=str(tmp_path))
    config["dataset"]["annotations"] = str(tmp_path)
    problems = input_problems(config, feature_sources(config, ROWS))
    assert f"config key 'dataset.videos': path does not exist: {tmp_path / 'nowhere'}" in problems
    assert any(p.startswith("config key 'dataset.official_features': no folder") for p in problems)
    assert any(p.startswith("config key 'features.clip.checkpoint': weights file not found") for p in problems)


def test_the_description_lays_out_the_released_features(tmp_path):
    """Which features are imported, and the folders messages name, come from the data set's
    description: LFAV's release, not LLP's."""
    lfav = llp(official_features=str(tmp_path))
    lfav["dataset"].update(description="lfav", annotations=str(tmp_path))
    lfav["dataset"].pop("videos", None)
    lfav["train"]["models"] = ["han"]  # MGN is built for 10 segments: refused for LFAV
    sources = feature_sources(lfav, ROWS)
    assert sources.official == ("vggish", "cnn2d", "r2plus1d") and sources.manifest_producer == "probe_official_shard"
    (tmp_path / "audio-feat-vggish-align").mkdir()
    layout = [p for p in input_problems(lfav, sources) if p.startswith("config key 'dataset.official_features'")]
    assert layout == [f"config key 'dataset.official_features': no folder {tmp_path / folder} (expected {folder}/<id>.npy "
                      f"of shape (T, 512), as lfav's release lays them out)"
                      for folder in ("visual-feat-res18-align", "visual-feat-r2plus1d-align")]
    for description, folders in (("llp", "vggish/ res152/ r2plus1d_18/"),
                                 ("lfav", "audio-feat-vggish-align/ visual-feat-res18-align/ visual-feat-r2plus1d-align/")):
        config = llp()
        config["dataset"]["description"] = description
        config["train"]["models"] = ["han"]
        with pytest.raises(ValueError, match=re.escape(f"dataset.official_features (a folder with {folders})")):
            feature_sources(config, ROWS)
    typo = tmp_path / "typo.yaml"  # a third data set's description naming no feature of the registry
    typo.write_text((REPO / "vplan_core/datasets/lfav.yaml").read_text().replace("  vggish:\n    folder", "  vgish:\n    folder"))
    lfav["dataset"]["description"] = str(typo)
    with pytest.raises(ValueError, match=re.escape(f"{typo}: released_features names ['vgish'], which are not features")):
        feature_sources(lfav, ROWS)


def test_summary_line():
    summary = {"total": 5, "by_status": {"used": 3, "skipped": 1, "missing": 1},
               "by_reason": {"skipped/too short": 1, "missing/no file": 1},
               "feature_skips": {"vggish": {"total": 1, "by_reason": {"no audio stream": 1}}},
               "extra": {"total": 2}}
    assert summary_line(summary, "m.json") == (
        "vplan: 5 videos: 3 used, 1 skipped, 1 missing (skip reasons: skipped/too short: 1; missing/no file: 1); "
        "feature skips: vggish: 1 (no audio stream: 1); 2 file(s) in dataset.videos named by no split "
        "(listed in m.json)")


def test_rows_are_checked_against_their_losses_and_features():
    from dataclasses import replace

    from vplan_core.method.ablation import check_rows, plg

    check_rows(ROWS, LABELLED_MODALITIES)  # the committed rows
    row2 = ROWS["row2_plg"]
    for bad, message in ((replace(row2, visual=plg("clap")), "no pseudo-label feature of that modality"),
                         (replace(row2, visual=plg("vggish")), "no pseudo-label feature of that modality"),
                         (replace(row2, loss="han"), "reads ()")):
        with pytest.raises(ValueError, match=re.escape(message)):
            check_rows({**ROWS, "row2_plg": bad}, LABELLED_MODALITIES)
