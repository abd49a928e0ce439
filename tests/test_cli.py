"""`vplan evaluate` end to end (subprocess runs on npz files written here), and the error contract
of every subcommand: one line and exit 2 for a user's error, exit 1 for a bug, --debug to see it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vplan_core import cli
from vplan_core.evaluation import metrics
from tests.paths import LLP_DIR

LEVEL_KEYS = {"audio", "visual", "audio_visual", "type_at_av", "event_at_av"}


@pytest.fixture(scope="module")
def random_pred(test_split) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    shape = test_split.gt_audio.shape
    return {"video_ids": np.array(test_split.filenames), "audio_prob": rng.random(shape, dtype=np.float32),
            "visual_prob": rng.random(shape, dtype=np.float32),
            "video_prob": rng.random((shape[0], 25), dtype=np.float32)}


def vplan(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "VPLAN_ANNOTATIONS"}
    return subprocess.run([sys.executable, "-m", "vplan_core.cli", *args], capture_output=True,
                          text=True, env={**base, **(env or {})}, timeout=60)


def save(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def test_evaluate_prints_the_ten_numbers(tmp_path, test_split, random_pred):
    npz = save(tmp_path / "pred.npz", **random_pred)
    run = vplan("evaluate", str(npz), "--split", "test", "--annotations", str(LLP_DIR))
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert set(out) == {"segment_level", "event_level"}
    assert all(set(level) == LEVEL_KEYS for level in out.values())
    assert out == metrics.evaluate_predictions(random_pred, test_split)  # full float precision


def test_evaluate_accepts_ids_and_env_annotations(tmp_path, test_split, random_pred):
    full = save(tmp_path / "full.npz", **random_pred)
    ids = save(tmp_path / "ids.npz", **{**random_pred, "video_ids": np.array(test_split.video_ids)})
    env = {"VPLAN_ANNOTATIONS": str(LLP_DIR)}
    by_id, by_name = (vplan("evaluate", str(p), "--split", "test", env=env) for p in (ids, full))
    assert by_id.returncode == by_name.returncode == 0, by_id.stderr + by_name.stderr
    assert json.loads(by_id.stdout) == json.loads(by_name.stdout)


def test_missing_videos_exit_2_unless_allowed(tmp_path, test_split):
    keep = 1000
    gt_a, gt_v = test_split.gt_audio[:keep], test_split.gt_visual[:keep]
    npz = save(tmp_path / "part.npz", video_ids=np.array(test_split.video_ids[:keep]),
               audio_prob=gt_a.astype(np.float32), visual_prob=gt_v.astype(np.float32))
    run = vplan("evaluate", str(npz), "--split", "test", "--annotations", str(LLP_DIR))
    assert run.returncode == 2 and run.stdout == ""
    assert str(npz) in run.stderr and "200 of 1200 test videos have no prediction" in run.stderr
    assert test_split.filenames[keep] in run.stderr and "Traceback" not in run.stderr
    run = vplan("evaluate", str(npz), "--split", "test", "--annotations", str(LLP_DIR), "--allow-missing")
    assert run.returncode == 0, run.stderr
    assert "scoring 1000 of 1200" in run.stderr
    assert all(v == 100.0 for level in json.loads(run.stdout).values() for v in level.values())


def test_nan_names_the_video(tmp_path, test_split, random_pred):
    pred = {k: v.copy() for k, v in random_pred.items()}
    pred["visual_prob"][42, 3, 5] = np.nan
    npz = save(tmp_path / "nan.npz", **pred)
    run = vplan("evaluate", str(npz), "--split", "test", "--annotations", str(LLP_DIR))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert str(npz) in run.stderr and test_split.filenames[42] in run.stderr and "NaN" in run.stderr


def test_console_script(tmp_path, random_pred):
    script = Path(sys.executable).parent / "vplan"
    if not script.exists():
        pytest.skip("console script not installed in this environment")
    npz = save(tmp_path / "pred.npz", **random_pred)
    run = subprocess.run([str(script), "evaluate", str(npz), "--split", "test", "--annotations",
                          str(LLP_DIR)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and set(json.loads(run.stdout)) == {"segment_level", "event_level"}


@pytest.mark.parametrize("case, expected", [
    ("no_file", "no such file"), ("bad_keys", "lack key(s): audio_prob"),
    ("not_npz", "not a readable .npz archive"), ("no_annotations", "pass --annotations DIR"),
    ("bad_annotations", "split file not found")])
def test_errors_exit_2_with_a_message(tmp_path, monkeypatch, capsys, random_pred, case, expected):
    monkeypatch.delenv("VPLAN_ANNOTATIONS", raising=False)
    npz = tmp_path / "pred.npz"
    annotations = ["--annotations", str(LLP_DIR)]
    if case == "bad_keys":
        save(npz, **{k: v for k, v in random_pred.items() if k != "audio_prob"})
    elif case == "not_npz":
        npz.write_text("not an archive")
    elif case == "no_annotations":
        save(npz, **random_pred)
        annotations = []
    elif case == "bad_annotations":
        annotations = ["--annotations", str(tmp_path / "nowhere")]
    assert cli.main(["evaluate", str(npz), "--split", "test", *annotations]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vplan evaluate: error: ") and expected in err
    if case in ("no_file", "bad_keys", "not_npz"):
        assert str(npz) in err


def test_a_bug_is_one_line_and_exit_1_unless_debug(capsys):
    """A subcommand added the documented way (cli.SUBCOMMANDS) whose run has a bug."""
    def run(args):
        raise RuntimeError("a bug\nover two lines")

    command = cli.Subcommand("crash", "fails with a bug", lambda parser: None, run)
    cli.SUBCOMMANDS.append(command)
    try:
        assert cli.main(["crash"]) == 1
        assert capsys.readouterr().err.splitlines() == [
            "vplan crash: internal error: RuntimeError: a bug over two lines "
            "(a bug; `vplan --debug` shows the traceback)"]
        with pytest.raises(RuntimeError, match="a bug"):
            cli.main(["--debug", "crash"])
    finally:
        cli.SUBCOMMANDS.remove(command)


def test_evaluate_scores_lfav_by_its_own_protocol(tmp_path):
    """LFAV's test videos of any length (their lengths in the file), gated by p^a and p^v, scored
    as the official evaluation scores them: the same numbers as lfav_metrics on the GT those
    lengths give (dirty rows included: the first videos have onset > offset and zero-length rows)."""
    from tests.lfav_release import ANNOTATIONS, DIRTY_TEST, LFAV
    from vplan_core.data.annotations import load_split, subset_split, with_lengths
    from vplan_core.evaluation.lfav_metric import lfav_metrics

    split = load_split(ANNOTATIONS, "test", LFAV)
    rows = [split.video_ids.index(vid) for vid in DIRTY_TEST] + [5, 9]
    lengths = np.array([40, 7, 160, 1])
    rng = np.random.default_rng(3)
    pred = {"video_ids": np.array([split.video_ids[i] for i in rows]), "lengths": lengths,
            "audio_prob": rng.random((4, 160, 35), dtype=np.float32), "visual_prob": rng.random((4, 160, 35), dtype=np.float32),
            "video_prob": rng.random((4, 35), dtype=np.float32), "audio_video_prob": rng.random((4, 35), dtype=np.float32),
            "visual_video_prob": rng.random((4, 35), dtype=np.float32)}
    run = vplan("evaluate", str(save(tmp_path / "pred.npz", **pred)), "--split", "test", "--dataset", "lfav",
                "--annotations", str(ANNOTATIONS), "--allow-missing")
    assert run.returncode == 0, run.stderr
    assert "scoring 4 of 968 test videos" in run.stderr
    order = np.argsort(rows)
    scored = with_lengths(subset_split(split, sorted(rows)), lengths[order], LFAV)
    cut = lambda a: [a[k, :n] for k, n in enumerate(lengths[order])]  # noqa: E731
    expected = lfav_metrics(cut(scored.gt_audio), cut(scored.gt_visual), cut(pred["audio_prob"][order]),
                            cut(pred["visual_prob"][order]), pred["audio_video_prob"][order], pred["visual_video_prob"][order])
    out = json.loads(run.stdout)
    assert {k: out[k] for k in ("segment_level", "event_level")} == {k: expected[k] for k in ("segment_level", "event_level")}
    assert out["dense_rows"]["onset_after_offset"] > 0 and out["dense_rows"]["zero_length"] > 0
    del pred["lengths"]
    run = vplan("evaluate", str(save(tmp_path / "bad.npz", **pred)), "--split", "test", "--dataset", "lfav",
                "--annotations", str(ANNOTATIONS), "--allow-missing")
    assert run.returncode == 2 and "lfav's protocol reads lengths" in run.stderr
