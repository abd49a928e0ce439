"""`vplan parse` at the front door: every file of a corpus of bad and odd inputs (real mp4s,
tests/media.py write_corpus) is either parsed or refused with exit code 2 and one line on stderr
that names the file and its problem; the checkpoint and the extractors' weights are checked
before any feature is extracted. stderr is captured at the file descriptor (capfd), so FFmpeg's
own log lines would count too."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from tests.media import write_corpus
from tests.test_parse import write_tiny_model
from vplan_core.cli import main
from vplan_core.data.video import VideoError

PARSED = {  # name -> (duration_s, windows)
    "half_second": (0.5, 1), "sixty_seconds": (60.0, 6), "variable_rate": (3.0, 1),
    "portrait": (3.0, 1), "surround_48k": (3.0, 1), "mono_8k": (3.0, 1), "odd_97x61": (3.0, 1),
    "non_ascii": (3.0, 1),
}
REFUSED = {  # name -> the problem its error line states
    "zero_bytes": "empty file (0 bytes)",
    "text": "unreadable (Invalid data found when processing input)",
    "truncated": "unreadable (Invalid data found when processing input)",
    "truncated_faststart": "truncated (frames end at",
    "no_audio": "no audio stream",
    "no_video": "no video stream",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """(config, checkpoint): random extractor weights on 16-px frames, an untrained HAN."""
    return write_tiny_model(tmp_path_factory.mktemp("corpus-model"), frame_size=16)


@pytest.fixture(scope="module")
def unbuildable_config(model, tmp_path_factory):
    """The model's config with features.cnn2d.weights a file that does not exist: a parse that
    reports a video's or checkpoint's problem with it checked that before building an extractor."""

    config = yaml.safe_load(model[0].read_text())
    config["features"]["cnn2d"]["weights"] = str(tmp_path_factory.getbasetemp() / "nowhere/cnn2d.pth")
    path = tmp_path_factory.mktemp("unbuildable") / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def parse(video, config, checkpoint, out, *options: str) -> int:
    return main([*options, "parse", str(video), "--checkpoint", str(checkpoint), "--config", str(config),
                 "--out", str(out)])


def error_line(capfd) -> str:
    """The one line on stderr (nothing on stdout)."""
    captured = capfd.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1, captured.err
    return captured.err.rstrip("\n")


def test_every_corpus_file_has_an_outcome(corpus):
    assert set(corpus) == set(PARSED) | set(REFUSED)


@pytest.mark.parametrize("name", list(PARSED))
def test_parsed(corpus, model, tmp_path, capfd, name):
    duration, windows = PARSED[name]
    video = corpus[name]
    assert parse(video, *model, tmp_path) == 0
    captured = capfd.readouterr()
    assert captured.err == ""
    assert json.loads(captured.out)["outputs"]["events"] == str(tmp_path / f"{video.stem}.events.json")
    result = json.loads((tmp_path / f"{video.stem}.events.json").read_text())
    assert result["video"] == str(video) and result["windows"] == windows
    assert result["duration_s"] == pytest.approx(duration, abs=0.05)
    assert all(0 <= e["onset"] < e["offset"] <= result["duration_s"] for e in result["events"])
    assert (tmp_path / f"{video.stem}.timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_with_one_line(corpus, model, unbuildable_config, tmp_path, capfd, name):
    """With a config whose extractors cannot be built: the video is refused before extraction."""
    assert parse(corpus[name], unbuildable_config, model[1], tmp_path / "out") == 2
    assert error_line(capfd).startswith(f"vplan parse: error: {corpus[name]}: {REFUSED[name]}")
    assert not (tmp_path / "out").exists()


def test_debug_lets_the_error_through(corpus, model, tmp_path):
    with pytest.raises(VideoError, match="empty file") as err:
        parse(corpus["zero_bytes"], *model, tmp_path, "--debug")
    assert err.value.path == str(corpus["zero_bytes"])


@pytest.fixture(scope="module")
def checkpoints(model, tmp_path_factory):
    """Files given as --checkpoint that are no usable vplan model, by name."""
    root = tmp_path_factory.mktemp("checkpoints")
    payload = torch.load(model[1], weights_only=True)
    files = {name: root / f"{name}.pt" for name in
             ("missing", "weights_only", "state_dict_only", "text", "truncated", "unknown_family",
              "other_sizes", "foreign_kwargs")}
    torch.save({k: v for k, v in payload.items() if k != "model_kwargs"}, files["weights_only"])
    torch.save(payload["state_dict"], files["state_dict_only"])
    files["text"].write_text("model: han\n")
    data = model[1].read_bytes()
    files["truncated"].write_bytes(data[: len(data) // 2])
    torch.save({**payload, "family": "transformer"}, files["unknown_family"])
    torch.save({**payload, "model_kwargs": {**payload["model_kwargs"], "d_model": 32}}, files["other_sizes"])
    torch.save({**payload, "model_kwargs": {**payload["model_kwargs"], "layers": 2}}, files["foreign_kwargs"])
    return files


@pytest.mark.parametrize("name, problem", [
    ("missing", "no such file"),
    ("weights_only", "not a vplan model checkpoint (no model_kwargs; its keys: state_dict, family, "),
    ("state_dict_only", "not a vplan model checkpoint (no state_dict or model_kwargs; its keys: "),
    ("text", "not a vplan model checkpoint (a text file (11 bytes) starting 'model: han\\n')"),
    ("truncated", "not a vplan model checkpoint (a truncated or damaged zip archive"),
    ("unknown_family", "unknown parser family 'transformer'"),
    ("other_sizes", "its HAN weights do not fit the model its model_kwargs describe (size mismatch for "),
    ("foreign_kwargs", "its model_kwargs do not build a HAN (HAN.__init__() got an unexpected keyword "),
])
def test_checkpoint_checked_before_extraction(corpus, checkpoints, unbuildable_config, tmp_path, capfd,
                                              name, problem):
    assert parse(corpus["mono_8k"], unbuildable_config, checkpoints[name], tmp_path) == 2
    line = error_line(capfd)
    assert str(checkpoints[name]) in line and problem in line


def test_missing_weights_keep_their_named_error(corpus, model, unbuildable_config, tmp_path, capfd):
    """A missing extractor weight file keeps its named error (config key, path, where to get it)."""
    assert parse(corpus["sixty_seconds"], unbuildable_config, model[1], tmp_path) == 2
    line = error_line(capfd)
    assert "weights file not found: config key 'features.cnn2d.weights'" in line and "cnn2d.pth" in line


# ---------------------------------------------------------------- inputs that look fine but are not
@pytest.fixture(scope="module")
def odd_av(tmp_path_factory):
    """10-s clips (small frames, 16 kHz audio): audio that ends at 0.2 s, every stream starting at
    100 s, and the same content starting at 0 (its twin)."""
    from tests.media import Audio, write_video

    root = tmp_path_factory.mktemp("odd_av")
    spec = dict(seconds=10.0, fps=8, width=32, height=24)
    paths = {name: root / f"{name}.mp4" for name in ("audio_ends_at_0.2s", "streams_at_100s", "twin")}
    write_video(paths["audio_ends_at_0.2s"], **spec, audio=Audio(1, 16000, seconds=0.2))
    write_video(paths["streams_at_100s"], **spec, audio=Audio(1, 16000, freq_hz=1000.0), start_s=100.0)
    write_video(paths["twin"], **spec, audio=Audio(1, 16000, freq_hz=1000.0))
    return paths


def test_audio_ending_early_is_refused_with_its_coverage(odd_av, model, unbuildable_config, tmp_path, capfd):
    assert parse(odd_av["audio_ends_at_0.2s"], unbuildable_config, model[1], tmp_path / "out") == 2
    assert error_line(capfd) == (f"vplan parse: error: {odd_av['audio_ends_at_0.2s']}: audio coverage (0.20 s of "
                                 "the 10.00 s of video in [0, 10) s (needs 9.00 s))")
    assert not (tmp_path / "out").exists()


def test_streams_starting_late_parse_as_their_twin(odd_av, model, tmp_path, capfd):
    """The same content with every timestamp 100 s later gives the parser the same inputs."""
    from vplan_core.features.extractor import windows_features
    from vplan_core.parse import build_extractors
    from vplan_core.training.checkpoints import checkpoint_inputs, load_checkpoint

    assert parse(odd_av["streams_at_100s"], *model, tmp_path) == 0
    result = json.loads((tmp_path / "streams_at_100s.events.json").read_text())
    assert (result["duration_s"], result["windows"]) == (pytest.approx(10.0, abs=0.02), 1)
    extractors = build_extractors(yaml.safe_load(model[0].read_text()), checkpoint_inputs(load_checkpoint(model[1])[1]))
    late, twin = (windows_features(extractors, odd_av[name]) for name in ("streams_at_100s", "twin"))
    for name in extractors:
        np.testing.assert_array_equal(late[name], twin[name], err_msg=name)


def test_a_folder_given_as_the_video_says_so(model, unbuildable_config, tmp_path, capfd):
    assert parse(tmp_path, unbuildable_config, model[1], tmp_path / "out") == 2
    assert error_line(capfd) == f"vplan parse: error: {tmp_path}: a folder, not a video file"


def test_the_output_folder_is_checked_before_any_work(corpus, model, unbuildable_config, tmp_path, capfd):
    """--out naming a file: refused before the video, the checkpoint or the extractors are read."""
    (tmp_path / "taken").write_text("a file, not a folder\n")
    for out in (tmp_path / "taken", tmp_path / "taken/sub"):
        assert parse(corpus["no_audio"], unbuildable_config, model[1], out) == 2
        assert error_line(capfd) == f"vplan parse: error: output folder {out}: {tmp_path / 'taken'} is not a folder"


def test_a_model_with_nan_weights_does_not_parse(corpus, model, tmp_path, capfd):
    payload = torch.load(model[1], weights_only=True)
    payload["state_dict"] = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                             for k, v in payload["state_dict"].items()}
    broken = tmp_path / "nan.pt"
    torch.save(payload, broken)
    assert parse(corpus["mono_8k"], model[0], broken, tmp_path / "out") == 2
    line = error_line(capfd)
    assert line.startswith(f"vplan parse: error: {broken}: non-finite weights")  # refused at load
    assert not (tmp_path / "out").exists()


def test_a_model_whose_outputs_are_not_finite_does_not_parse(corpus, model, tmp_path, capfd):
    """Finite weights far too large overflow to inf and NaN inside the model: no events are read
    from such outputs."""
    payload = torch.load(model[1], weights_only=True)
    payload["state_dict"] = {k: torch.full_like(v, 1.0e30) if v.is_floating_point() else v
                             for k, v in payload["state_dict"].items()}
    broken = tmp_path / "huge.pt"
    torch.save(payload, broken)
    assert parse(corpus["mono_8k"], model[0], broken, tmp_path / "out") == 2
    line = error_line(capfd)
    assert line.startswith(f"vplan parse: error: checkpoint {broken}") and "not finite" in line
    assert not (tmp_path / "out").exists()


def test_outputs_are_replaced_atomically_and_the_summary_says_so(corpus, model, tmp_path, capfd):
    video = corpus["mono_8k"]
    assert parse(video, *model, tmp_path) == 0
    assert json.loads(capfd.readouterr().out)["replaced"] == []
    first = (tmp_path / "mono_8k.events.json").read_text()
    assert parse(video, *model, tmp_path) == 0
    assert json.loads(capfd.readouterr().out)["replaced"] == [str(tmp_path / "mono_8k.events.json"),
                                                             str(tmp_path / "mono_8k.timeline.png")]
    assert (tmp_path / "mono_8k.events.json").read_text() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mono_8k.events.json", "mono_8k.timeline.png"]
