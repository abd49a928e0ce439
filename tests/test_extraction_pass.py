"""The one-pass extraction (features/decoding.py, extract.py) against the path it replaced
(tests/reference_extraction.py: a decode per feature, PIL resizing frame by frame), on real mp4
files, for every feature; and the shard job's reuse of stores whose fingerprint still holds.

Tolerances, stated once: the audio inputs are the same samples (one decode, one resampler per
rate, as before), so VGGish and CLAP inputs are equal and their features agree to float32
rounding (AUDIO_ATOL). Frames go through torch's antialiased bilinear resize instead of PIL's:
at most one grey level apart (FRAME_LEVELS; measured on the 192x144 demo scene: 0.3% of the
224-px pixels and 0.04% of the 112-px ones differ, by one level; upscaled frames not at all);
CLIP's own bicubic step is torch's too (CLIP_LEVELS; measured: max 1.0, mean 0.13 levels). The
visual features of the same (random) backbones then differ by at most VISUAL_RELATIVE of their
largest value (measured: 0.11% ResNet, 0.12% R(2+1)D, 0.07% CLIP).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests import reference_extraction as old
from tests.media import Audio, write_video
from vplan_core.data.manifest import probe_videos
from vplan_core.demo import clap_training
from vplan_core.demo.clips import write_clip
from vplan_core.demo.scenarios import make_scenarios
from vplan_core.feature_store import open_store, read_store
from vplan_core.features import clip as clip_features
from vplan_core.features.decoding import DecodePlan, decode_window
from vplan_core.features.extract import build_extractor, extract_shard, refresh_shard, write_settings_file
from vplan_core.method import plg

FRAME_LEVELS = 1  # max |new - old| of a resized uint8 pixel
CLIP_LEVELS = 1  # of CLIP's input after its bicubic resize, in grey levels (x std x 255)
VISUAL_RELATIVE = 0.005  # max |new - old| of a visual feature / max |old|
AUDIO_ATOL = 1e-5
CLAP_CONFIG = Path(__file__).parent / "data" / "laion_clap" / "config_fused.json"

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """A demo scene (textured, 192x144, stereo AAC), a small 30 fps clip, one without audio."""
    d = tmp_path_factory.mktemp("videos")
    scene = make_scenarios(n_train=1, n_val=1, n_test=1, seed=3)[0]
    write_clip(scene, d / "aaaaaaaaaaa_0_10.mp4", 192, 144, 25)
    write_video(d / "bbbbbbbbbbb_0_10.mp4", fps=30, width=80, height=60, audio=Audio(1, 22050))
    write_video(d / "ccccccccccc_0_10.mp4", fps=24, width=72, height=96)
    found = probe_videos(["aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc"], d)
    assert [r["status"] for r in found] == ["used"] * 3
    return found


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    tokenizer = tmp_path_factory.mktemp("tokenizer")
    clap_training.build_tokenizer(tokenizer, plg.prompt_texts(plg.AUDIO_PROMPT, ["dog", "cat"]), vocab_size=300)
    return {"cnn2d": {"weights": "random:0", "backbone": "resnet18", "size": 64, "batch_size": 48},
            "r2plus1d": {"weights": "random:0", "size": 32, "batch_size": 7},
            "vggish": {"weights": "random:1", "batch_size": 16},
            "clip": {"model_name": "vplan-demo-clip", "checkpoint": "random:0", "size": 144,
                     "config_file": "vplan_core/demo/vplan-demo-clip.json", "batch_size": 12},
            "clap": {"checkpoint": "random:0", "config": str(CLAP_CONFIG),
                     "tokenizer": str(tokenizer), "batch_size": 8}}


@pytest.fixture(scope="module")
def one_pass(rows, settings, tmp_path_factory):
    out = tmp_path_factory.mktemp("stores")
    stores = {name: out / f"{name}.zarr" for name in settings}
    return extract_shard(settings, rows, stores, num_workers=1), stores


def _clip_model(s: dict):
    return clip_features.load_clip(s["model_name"], s["checkpoint"], s["config_file"])[:2]


def _old_inputs(name: str, path: str, s: dict) -> torch.Tensor:
    """The old path's input of the model: uint8 frames, CLIP's normalised images, audio inputs."""
    if name == "cnn2d":
        return torch.from_numpy(old.cnn2d_frames(path, s["size"]))
    if name == "r2plus1d":
        return torch.from_numpy(old.r2plus1d_clips(path, s["size"]))
    if name == "clip":
        return old.clip_images(path, s["size"], _clip_model(s)[1])
    if name == "vggish":
        return old.vggish_examples(path)
    return torch.from_numpy(old.clap_windows(path))


def _old_features(name: str, s: dict, ex, inputs: torch.Tensor) -> np.ndarray:
    if name == "clip":  # the old input is already normalised: straight into the same model
        with torch.no_grad():
            return torch.nn.functional.normalize(_clip_model(s)[0].encode_image(inputs), dim=-1).numpy()
    return ex.forward(inputs).numpy()


def test_one_decode_gives_every_feature_the_old_inputs(rows, settings):
    extractors = {name: build_extractor(name, s) for name, s in settings.items()}
    plan = DecodePlan.union(ex.needs for ex in extractors.values())
    assert len(plan.frame_times) == 90 and plan.audio_rates == (16000, 48000)
    for row in rows:
        decoded = decode_window(row["path"], plan)
        for name, ex in extractors.items():
            if not row["has_audio"] and name in ("vggish", "clap"):
                assert decoded.problem(ex.needs) == "no audio stream"
                continue
            new, before = ex.prepare(decoded), _old_inputs(name, row["path"], settings[name])
            if name in ("vggish", "clap"):
                assert torch.equal(new, before), name  # the same samples
            elif name == "clip":
                model = _clip_model(settings[name])[0]
                std = torch.tensor(model.visual.preprocess_cfg["std"]).view(1, 3, 1, 1)
                levels = ((clip_features.image_input(model, new) - before).abs() * std * 255).max()
                assert levels <= CLIP_LEVELS + 1e-4, (row["video_id"], float(levels))
            else:
                assert new.dtype == before.dtype == torch.uint8 and new.shape == before.shape, name
                assert (new.int() - before.int()).abs().max() <= FRAME_LEVELS, name


def test_one_pass_stores_equal_the_old_path_within_tolerance(rows, settings, one_pass):
    summaries, stores = one_pass
    for name, s in settings.items():
        feats, ids, attrs = read_store(stores[name])
        ex = build_extractor(name, s)
        used = [r for r in rows if name not in ("vggish", "clap") or r["has_audio"]]
        assert ids == [r["video_id"] for r in used], name
        assert attrs["compute"] == {"device": "cpu", "dtype": "float32"}
        before = np.stack([_old_features(name, s, ex, _old_inputs(name, r["path"], s)) for r in used])
        assert feats.shape == before.shape, name
        if name in ("vggish", "clap"):
            np.testing.assert_allclose(feats, before, atol=AUDIO_ATOL, rtol=0, err_msg=name)
        else:
            relative = np.abs(feats - before).max() / np.abs(before).max()
            assert relative <= VISUAL_RELATIVE, (name, relative)
        assert summaries[name]["n_written"] == len(used)


def test_a_part_that_fails_skips_only_the_features_that_read_it(rows, settings, one_pass):
    summaries, _ = one_pass
    assert summaries["vggish"]["skipped"] == summaries["clap"]["skipped"] == [["ccccccccccc", "no audio stream"]]
    assert summaries["cnn2d"]["skipped"] == summaries["clip"]["skipped"] == []


def test_a_video_that_does_not_decode_is_skipped_by_every_feature(rows, settings, tmp_path):
    from vplan_core.data.manifest import make_record

    junk = tmp_path / "ddddddddddd_0_10.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(3000))
    records = [rows[1], make_record("ddddddddddd", str(junk), "used", has_audio=1)]
    few = {name: settings[name] for name in ("cnn2d", "vggish")}
    summaries = extract_shard(few, records, {name: tmp_path / f"{name}.zarr" for name in few})
    assert summaries["cnn2d"]["skipped"][0][0] == "ddddddddddd"
    assert summaries["cnn2d"]["skipped"][0][1].startswith("undecodable frames")
    assert summaries["vggish"]["skipped"][0][1].startswith("unreadable")
    assert [s["n_written"] for s in summaries.values()] == [1, 1]


def test_the_shard_job_extracts_only_stale_features(rows, settings, tmp_path):
    few = {name: settings[name] for name in ("cnn2d", "vggish")}
    files = {}
    for name, s in few.items():
        files[name] = tmp_path / f"{name}.json"
        write_settings_file(files[name], name, {k: v for k, v in s.items() if k != "batch_size"}, [])
    stores = {name: tmp_path / f"{name}.zarr" for name in few}
    first = refresh_shard(files, rows, stores)
    assert not any(summary.get("kept") for summary in first.values())
    stamp = {name: (path / "zarr.json").stat().st_mtime_ns for name, path in stores.items()}

    again = refresh_shard(files, rows, stores)
    assert all(summary["kept"] for summary in again.values())

    changed = json.loads(files["cnn2d"].read_text())
    changed["settings"]["size"] = 48
    files["cnn2d"].write_text(json.dumps(changed))
    third = refresh_shard(files, rows, stores)
    assert third["vggish"] == {"feature": "vggish", "store": str(stores["vggish"]), "kept": True}
    assert third["cnn2d"]["n_written"] == 3
    assert (stores["vggish"] / "zarr.json").stat().st_mtime_ns == stamp["vggish"]
    assert open_store(stores["cnn2d"])[1]["sampling"]["frame_size"] == 48
