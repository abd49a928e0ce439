"""`vplan parse`: one video of any length -> JSON events + PNG timeline, with a tiny model."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.media import Audio, write_video
from tests.test_clap_maps import write_laion_clap
from tests.workflow_runs import REPO
from vplan_core.cli import main
from vplan_core.data.description import LLP
CLASSES = LLP.classes
from vplan_core.parse import events_from_probs, window_count


def write_tiny_model(root: Path, frame_size: int = 32) -> tuple[Path, Path]:
    """(config, checkpoint) in root: the demo's extractor config with random weights and
    frame_size-px frames, and an untrained HAN for its features; tests/test_corpus.py uses it too."""
    from vplan_core.training.checkpoints import save_checkpoint
    from vplan_core.data.dataset import Features
    from vplan_core.method.losses import LossConfig
    from vplan_core.training.trainer import TrainConfig, initial_model

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["features"]["cnn2d"].update(size=frame_size)
    config["features"]["r2plus1d"].update(size=frame_size)
    for feature in ("vggish", "cnn2d", "r2plus1d"):  # the demo's pretrained files are made by the workflow
        config["features"][feature]["weights"] = "random:0"
    config_path = root / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    train_config = TrainConfig(loss=LossConfig("han"), d_model=16)
    feats = Features(["x"], np.zeros((1, 10, 128), np.float32), np.zeros((1, 80, 512), np.float32),
                     np.zeros((1, 10, 512), np.float32))
    model = initial_model(train_config, feats.to_tensors("cpu"), len(CLASSES), seed=0)
    checkpoint = root / "model.pt"
    save_checkpoint(checkpoint, model, train_config, {})
    return config_path, checkpoint


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 14-s clip, a tiny extractor config (the demo's, small frames) and an untrained HAN."""
    root = tmp_path_factory.mktemp("parse")
    video = root / "clip.mp4"
    write_video(video, seconds=14.0, fps=12, width=64, height=48, audio=Audio())
    return root, video, *write_tiny_model(root)


def test_parse_writes_events_and_timeline(tiny, capsys):
    root, video, config_path, checkpoint = tiny
    out = root / "out"
    assert main(["parse", str(video), "--checkpoint", str(checkpoint), "--config", str(config_path),
                 "--out", str(out)]) == 0
    result = json.loads((out / "clip.events.json").read_text())
    assert result["windows"] == 2 and 13.5 < result["duration_s"] < 14.5
    for event in result["events"]:
        assert event["modality"] in ("audio", "visual", "audio-visual") and event["class"] in CLASSES
        assert 0 <= event["onset"] < event["offset"] <= result["duration_s"]
        assert 0.5 <= event["confidence"] <= 1.0
    assert (out / "clip.timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(capsys.readouterr().out)["windows"] == 2


def test_parse_rejects_a_config_of_other_features(tiny, capsys):
    root, video, config_path, checkpoint = tiny
    config = yaml.safe_load(config_path.read_text())
    config["features"]["cnn2d"]["backbone"] = "resnet50"  # 2048-d, the model expects 512
    other = root / "other.yaml"
    other.write_text(yaml.safe_dump(config))
    assert main(["parse", str(video), "--checkpoint", str(checkpoint), "--config", str(other)]) == 2
    assert "visual_2d_dim: model 512, features 2048" in capsys.readouterr().err


def test_events_rule():
    """Runs of on segments over windows; offsets clipped to the duration; AV = A and V."""
    audio, visual = np.zeros((2, 10, 25), np.float32), np.zeros((2, 10, 25), np.float32)
    video = np.zeros((2, 25), np.float32)
    audio[0, 8:, 3] = audio[1, :3, 3] = 0.8   # seconds 8-13, across the window boundary
    visual[1, 1:3, 3] = 0.6                   # seconds 11-13
    visual[1, 5:, 7] = 0.9                    # seconds 15-20, video only 16.5 s long
    video[:, 3] = video[1, 7] = 0.9
    events = events_from_probs(audio, visual, video, duration_s=16.5)
    got = {(e["modality"], e["class"], e["onset"], e["offset"], e["confidence"]) for e in events}
    assert got == {("audio", CLASSES[3], 8.0, 13.0, 0.8), ("visual", CLASSES[3], 11.0, 13.0, 0.6),
                   ("audio-visual", CLASSES[3], 11.0, 13.0, 0.6), ("visual", CLASSES[7], 15.0, 16.5, 0.9)}
    assert [window_count(d) for d in (0.5, 10.0, 10.2, 10.5, 10.6, 30.0, 30.4)] == [1, 1, 1, 1, 2, 3, 3]


def test_a_real_llp_clip_is_one_window_with_nothing_in_its_slack(tiny, tmp_path):
    """A real LLP clip: YouTube H.264 320x240 at 29.92 fps with AAC at 44.1 kHz, 10.03 s long in its
    container. It is one 10-s window, and no event starts (or runs) past 10 s."""
    from fractions import Fraction

    from vplan_core.data.video import probe

    _, _, config_path, checkpoint = tiny
    video = tmp_path / "llp_clip.mp4"
    write_video(video, seconds=10.03, fps=Fraction(748, 25), width=320, height=240,
                audio=Audio(channels=2, rate=44100))
    info = probe(video)
    assert 10.0 < info.duration_s < 10.1 and window_count(info.duration_s) == 1
    assert main(["parse", str(video), "--checkpoint", str(checkpoint), "--config", str(config_path),
                 "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "llp_clip.events.json").read_text())
    assert result["windows"] == 1
    assert all(e["onset"] < 10.0 and e["offset"] <= 10.0 for e in result["events"])
    # whatever the model says: with every segment on, the events end at 10 s, not in the slack
    on = np.ones((1, 10, 25), np.float32)
    events = events_from_probs(on, on, np.ones((1, 25), np.float32), duration_s=info.duration_s)
    assert {(e["onset"], e["offset"]) for e in events} == {(0.0, 10.0)}


def test_parse_extracts_the_features_the_checkpoint_read(tiny, tmp_path, capsys):
    """A parser trained on CLIP segment embeddings as its 2D visual input (models.<name>.inputs)
    records them in its checkpoint, and `vplan parse` extracts CLIP for it (ResNet frames would not
    fit: 512-d, the model's visual_2d is CLIP's 128); a VALOR++ model (CLAP feature maps as its
    audio) parses it with features.clap_maps, and without them says which key to set."""
    import torch

    from vplan_core.data.dataset import Features
    from vplan_core.method.losses import LossConfig
    from vplan_core.training.checkpoints import save_checkpoint
    from vplan_core.training.trainer import TrainConfig, initial_model

    _, video, config_path, _ = tiny
    config = yaml.safe_load(config_path.read_text())
    config["features"]["clip"].update(checkpoint="random:0", config_file=str(REPO / config["features"]["clip"]["config_file"]))
    clip_config = tmp_path / "config.yaml"
    clip_config.write_text(yaml.safe_dump(config))
    inputs = {"audio": "vggish", "visual_2d": "clip", "visual_3d": "r2plus1d"}
    train_config = TrainConfig(loss=LossConfig("han"), model="valor", inputs=inputs,
                               model_kwargs={"hidden_dim": 16, "ff_dim": 16, "nhead": 2})
    feats = Features(["x"], np.zeros((1, 10, 128), np.float32), np.zeros((1, 10, 128), np.float32),
                     np.zeros((1, 10, 512), np.float32))
    checkpoint = tmp_path / "model.pt"
    save_checkpoint(checkpoint, initial_model(train_config, feats.to_tensors("cpu"), len(CLASSES), seed=0),
                    train_config, {})
    assert torch.load(checkpoint, weights_only=True)["train_config"]["inputs"] == inputs
    assert main(["parse", str(video), "--checkpoint", str(checkpoint), "--config", str(clip_config),
                 "--out", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out/clip.events.json").read_text())["windows"] == 2

    maps = TrainConfig(loss=LossConfig("han"), model="valor", inputs={**inputs, "audio": "clap_maps"},
                       model_kwargs={"hidden_dim": 16, "ff_dim": 16, "nhead": 2, "audio_maps": True})
    feats.audio = np.zeros((1, 64, 64), np.float32)  # the maps of write_laion_clap's HTSAT: 64 x 64
    save_checkpoint(checkpoint, initial_model(maps, feats.to_tensors("cpu"), len(CLASSES), seed=0), maps, {})
    capsys.readouterr()
    assert main(["parse", str(video), "--checkpoint", str(checkpoint), "--config", str(clip_config)]) == 2
    assert (f"checkpoint {checkpoint}: the model's audio is 'clap_maps', extracted with features.clap_maps, which "
            f"config {clip_config} does not set") in capsys.readouterr().err
    clap_checkpoint, clap_config = write_laion_clap(tmp_path / "clap")
    config["features"]["clap_maps"] = {"checkpoint": str(clap_checkpoint), "config": str(clap_config)}
    clip_config.write_text(yaml.safe_dump(config))
    assert main(["parse", str(video), "--checkpoint", str(checkpoint), "--config", str(clip_config),
                 "--out", str(tmp_path / "maps")]) == 0
    result = json.loads((tmp_path / "maps/clip.events.json").read_text())
    assert result["windows"] == 2 and result["events"]
