"""Training faults: a NaN loss stops the run by name, a stopped or killed training resumes from
its per-epoch state to exactly the uninterrupted result (CPU), a killed `make demo` goes on when
started again, and checkpoints are never left half-written."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.paths import REPO
from tests.test_training import make_features
from vplan_core.training.checkpoints import load_checkpoint, save_checkpoint
from vplan_core.data.dataset import Features, TrainingSet, ValidationSet
from vplan_core.training.prediction import predict
from vplan_core.training.trainer import TrainConfig, train


def resume_data() -> tuple[TrainingSet, ValidationSet]:
    """The same data here and in the killed subprocess (which imports it from this module)."""
    rng = np.random.default_rng(7)
    train_f, val_f = make_features(160, 0), make_features(16, 1)
    y = (rng.random((160, 25)) < 0.1).astype(np.uint8)
    y[:, 0] = 1
    seg = ((rng.random((160, 10, 25)) < 0.5) & y[:, None, :].astype(bool)).astype(np.uint8)
    gt_a = (rng.random((16, 10, 25)) < 0.05).astype(np.uint8)
    gt_v = (rng.random((16, 10, 25)) < 0.05).astype(np.uint8)
    return TrainingSet(train_f, y, seg), ValidationSet(val_f, gt_a, gt_v)


CONFIG = dict(loss={"kind": "plg_rl"}, epochs=5, batch_size=64, d_model=32, lr=1e-3, lr_step=2,
              lr_gamma=0.5, dropout=0.1, seeds=[3, 4])


def config(**kw) -> TrainConfig:
    torch.set_num_threads(1)
    return TrainConfig(**{**CONFIG, **kw})


def run(cfg, data, **kw):
    return train(cfg, *data, **{"log": lambda _: None, **kw})


def strip(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def assert_same_result(results_a, results_b, val_features):
    """Every seed: the same history, best epoch, weights and predictions (bitwise)."""
    assert [a.seed for a in results_a] == [b.seed for b in results_b]
    for a, b in zip(results_a, results_b):
        assert strip(a.history) == strip(b.history)
        assert (a.best_epoch, a.best_score) == (b.best_epoch, b.best_score)
        for key, value in a.model.state_dict().items():
            assert torch.equal(value, b.model.state_dict()[key]), key
        pa, pb = predict(a.model, val_features), predict(b.model, val_features)
        for key in pa:
            np.testing.assert_array_equal(pa[key], pb[key])


@pytest.fixture(scope="module")
def data():
    return resume_data()


@pytest.fixture(scope="module")
def uninterrupted(data):
    return run(config(), data)


class Stop(Exception):
    pass


def stop_after(epoch: int, lines: list[str] | None = None):
    def log(line: str) -> None:
        if lines is not None:
            lines.append(line)
        if line.startswith(f"epoch {epoch}/"):
            raise Stop(line)
    return log


def test_resume_after_a_stop_equals_the_uninterrupted_run(data, uninterrupted, tmp_path):
    state = tmp_path / "resume.pt"
    stopped = []
    with pytest.raises(Stop):
        run(config(), data, resume_path=state, log=stop_after(3, stopped))
    saved = torch.load(state, weights_only=True)
    assert saved["epoch"] == 3 and [len(h) for h in saved["histories"]] == [3, 3]
    lines = []
    resumed = run(config(), data, resume_path=state, log=lines.append)
    # The stopped run's epochs are logged again as they were, then the resumed ones.
    assert lines[:4] == stopped + [f"resuming after epoch 3 from {state}"]
    assert [line.split()[1] for line in lines[4:]] == ["4/5", "5/5"]
    assert_same_result(resumed, uninterrupted, data[1].features)
    # The clock goes on from the stopped run's: its 3 epochs count.
    assert saved["seconds"] >= sum(h["seconds"] for h in saved["histories"][0])
    assert resumed[0].seconds >= saved["seconds"] + sum(h["seconds"] for h in resumed[0].history[3:])
    # A finished state resumes to the same result without training again.
    finished = lines[:3] + lines[4:]
    lines.clear()
    again = run(config(), data, resume_path=state, log=lines.append)
    assert lines == finished + [f"resuming after epoch 5 from {state}"]
    assert_same_result(again, uninterrupted, data[1].features)


def test_state_of_other_settings_or_data_is_not_trusted(data, uninterrupted, tmp_path):
    state = tmp_path / "resume.pt"
    with pytest.raises(Stop):
        run(config(lr=5e-4), data, resume_path=state, log=stop_after(2))
    lines = []
    fresh = run(config(), data, resume_path=state, log=lines.append)
    assert "saved for other settings or data; training from epoch 1" in lines[0]
    assert_same_result(fresh, uninterrupted, data[1].features)
    # Same settings, other features (e.g. re-extracted): not trusted either.
    state.unlink()
    with pytest.raises(Stop):
        run(config(), data, resume_path=state, log=stop_after(2))
    train_set, val_set = data
    train_f = train_set.features
    changed = Features(train_f.video_ids, train_f.audio + 1.0, train_f.visual_2d, train_f.visual_3d)
    lines.clear()
    run(config(epochs=1), (replace(train_set, features=changed), val_set), resume_path=state, log=lines.append)
    assert "training from epoch 1" in lines[0]


def test_an_unreadable_state_is_set_aside_and_training_starts_over(data, uninterrupted, tmp_path):
    """A torn copy of a state (half the file) must not fail every retry of the job."""
    state = tmp_path / "resume.pt"
    with pytest.raises(Stop):
        run(config(), data, resume_path=state, log=stop_after(2))
    torn = state.read_bytes()[: state.stat().st_size // 2]
    state.write_bytes(torn)
    lines = []
    fresh = run(config(), data, resume_path=state, log=lines.append)
    aside = tmp_path / "resume.pt.unreadable"
    assert lines[0].startswith(f"warning: {state}: unreadable training state (")
    assert lines[0].endswith(f"moved aside to {aside}; training from epoch 1")
    assert aside.read_bytes() == torn
    assert_same_result(fresh, uninterrupted, data[1].features)
    assert torch.load(state, weights_only=True)["epoch"] == CONFIG["epochs"]  # the new run's state


def test_a_state_past_fewer_epochs_now_set_is_not_resumed(data, uninterrupted, tmp_path):
    """Lowering epochs after a kill: the best model must not come from past the new limit."""
    state = tmp_path / "resume.pt"
    with pytest.raises(Stop):
        run(config(), data, resume_path=state, log=stop_after(4))
    lines = []
    fewer = run(config(epochs=2), data, resume_path=state, log=lines.append)
    assert lines[0] == f"{state}: saved after epoch 4, past the 2 epochs now set; training from epoch 1"
    assert [len(r.history) for r in fewer] == [2, 2] and max(r.best_epoch for r in fewer) <= 2
    assert_same_result(fewer, run(config(epochs=2), data), data[1].features)


KILLED_TRAINING = textwrap.dedent(f"""
    import sys, torch
    from tests.test_resume import resume_data
    from vplan_core.training.trainer import TrainConfig, train
    torch.set_num_threads(1)
    config = TrainConfig(**{CONFIG!r})
    train(config, *resume_data(), resume_path=sys.argv[1], log=lambda _: None)
""")


def test_killed_training_resumes_to_the_uninterrupted_result(data, uninterrupted, tmp_path):
    """SIGKILL (no clean-up of any kind) as soon as the first epoch's state is on disk."""
    state = tmp_path / "resume.pt"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_TRAINING, str(state)], cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert state.exists(), "the training subprocess wrote no state"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    epoch = torch.load(state, weights_only=True)["epoch"]  # a complete state, whatever the timing
    assert 1 <= epoch < CONFIG["epochs"], "killed too late to test resuming"
    resumed = run(config(), data, resume_path=state)
    assert_same_result(resumed, uninterrupted, data[1].features)


def test_nan_loss_stops_with_epoch_and_batch_and_saves_nothing(data, tmp_path):
    train_set, val_set = data
    f = train_set.features
    bad = Features(f.video_ids, f.audio.copy(), f.visual_2d, f.visual_3d)
    bad.audio[20:] = np.inf  # rows of later batches: the first batches are finite
    state = tmp_path / "resume.pt"
    with pytest.raises(RuntimeError,
                       match=r"non-finite training loss at epoch 1, batch \d+ \(of 3; loss 'plg_rl'; seed 3\)"):
        run(config(), (replace(train_set, features=bad), val_set), resume_path=state)
    assert not state.exists()  # no NaN state left for later steps


def test_failed_checkpoint_save_keeps_the_previous_checkpoint(uninterrupted, data, tmp_path):
    path = tmp_path / "model.pt"
    save_checkpoint(path, uninterrupted[0].model, config(), {"best_epoch": 1})
    before = path.read_bytes()
    with pytest.raises(Exception, match="pickle"):  # fails in the middle of torch.save
        save_checkpoint(path, uninterrupted[0].model, config(), {"best_epoch": lambda: 2})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # the partial tmp file is gone
    model, payload = load_checkpoint(path)
    assert payload["extra"] == {"best_epoch": 1}


KILLED_SAVE = textwrap.dedent("""
    import os, signal, sys, threading, time
    from pathlib import Path
    import torch
    from vplan_core.training.checkpoints import save_checkpoint
    from vplan_core.models.han import HAN
    from vplan_core.training.trainer import TrainConfig
    path = Path(sys.argv[1])
    def kill_when_writing():
        while not any(p.name.startswith(".model.pt.") for p in path.parent.iterdir()):
            time.sleep(0.0005)
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=kill_when_writing, daemon=True).start()
    model = HAN(audio_dim=128, visual_2d_dim=2048, visual_3d_dim=512, d_model=512, num_classes=25)
    save_checkpoint(path, model, TrainConfig(), {"best_epoch": 2})
""")


def test_checkpoint_killed_while_saving_keeps_the_previous_one(uninterrupted, tmp_path):
    path = tmp_path / "model.pt"
    save_checkpoint(path, uninterrupted[0].model, config(), {"best_epoch": 1})
    before = path.read_bytes()
    proc = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(path)], cwd=REPO, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == before  # the old checkpoint, whole; at most a stale hidden tmp beside it
    assert load_checkpoint(path)[1]["extra"] == {"best_epoch": 1}


# ---------------------------------------------------------------- the workflow's train_row job
EPOCHS = 30


def official_workdir(workdir: Path) -> Path:
    """A real-LLP-style run on random official-format features (tests/test_llp_workflow.py),
    trained long enough (30 epochs, a second or two) to be stopped mid-training."""
    from tests.test_llp_workflow import llp_config, subset_annotations
    from tests.workflow_runs import write_config
    from tests.test_llp_workflow import LAYOUT

    keep = subset_annotations(workdir / "annotations", n_train=24, n_val=8, n_test=8)
    config = llp_config(workdir, annotations=workdir / "annotations", videos=False, official=True)
    rng = np.random.default_rng(0)
    for vid in [name[:11] for names in keep.values() for name in names]:
        for sub, shape in LAYOUT.values():
            np.save(workdir / "official_features" / sub / f"{vid}.npy", rng.random(shape, dtype=np.float32))
    # relative to the run folder (as config/llp.yaml's): two runs in two folders write the same files
    config["dataset"].update(shard_size=50, annotations="annotations", official_features="official_features")
    config["train"].update(device="cpu", epochs=EPOCHS, d_model=32, lr_step=4, batch_size=8, seeds=[0, 1],
                           models=["han"])
    return write_config(workdir, config)


def make_demo(rundir: Path) -> list[str]:
    """The README's `make demo`, run in `rundir` (its config.yaml) with this environment, which
    it leaves as it is."""
    venv = Path(sys.prefix)
    return ["make", "-C", str(REPO), "--no-print-directory", f"VENV={venv}", "-o", f"{venv}/.installed",
            "demo", f"RUNDIR={rundir}"]


@contextlib.contextmanager
def started(command: list[str], out: Path) -> Iterator[subprocess.Popen]:
    """`command` running in its own process group (output to `out`), all of it killed on leaving."""
    with open(out, "w") as handle:
        proc = subprocess.Popen(command, start_new_session=True, stdout=handle, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for(condition, what: str, seconds: float = 300):
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, f"no {what} after {seconds} s"
        time.sleep(0.02)
    return found


@pytest.mark.slow
def test_killed_make_demo_goes_on_with_the_same_command(tmp_path):
    """`make demo` started again, as it was, after kills: of Snakemake mid-training while its job
    lives on (the lock stays), of that job (the stale lock is cleared, the job resumes after its
    last saved epoch, its log holding every epoch and its seconds the killed attempt's), of
    Snakemake again while its job finishes alone (that output, marked incomplete, is made
    again). The run ends with an uninterrupted run's results."""
    import json
    import re

    import psutil

    from bench.compare_runs import compare

    reference, rundir = (official_workdir(tmp_path / name).parent.resolve() for name in ("reference", "killed"))
    subprocess.run(make_demo(reference), check=True, capture_output=True)
    target = rundir / "results/llp/models/han/row1_han/seeds_0-1"
    state, log = Path(f"{target}.resume.pt"), rundir / "logs/llp/train/han/row1_han/seeds_0-1.log"

    def train_job() -> psutil.Process | None:
        return next((p for p in psutil.process_iter(["cwd", "cmdline"]) if p.info["cwd"] == str(rundir)
                     and "train_row.py" in " ".join(p.info["cmdline"] or [])), None)

    def kill_snakemake(job: psutil.Process) -> None:
        snakemake = job.parent()
        assert "snakemake" in snakemake.cmdline()[1]
        snakemake.kill()

    def gone(job: psutil.Process) -> bool:
        with contextlib.suppress(psutil.NoSuchProcess):
            return job.status() == psutil.STATUS_ZOMBIE
        return True

    def saved() -> dict:
        return torch.load(state, weights_only=True) if state.exists() else {"epoch": 0}

    # 1. Snakemake killed mid-training; its job (stopped) lives on, and so does their lock.
    pause = 2.0  # mid-epoch, before the kill: the job's clock runs on
    with started(make_demo(rundir), tmp_path / "run1.out") as demo:
        job = wait_for(train_job, "train_row job")
        wait_for(state.exists, "resume state")
        job.suspend()
        first = saved()["epoch"]
        time.sleep(pause)
        job.resume()
        wait_for(lambda: saved()["epoch"] > first, "epoch after the pause")
        job.suspend()
        kill_snakemake(job)
        assert demo.wait(timeout=60) != 0
        killed = saved()
        assert killed["epoch"] < EPOCHS and killed["seconds"] >= pause
        refused = subprocess.run(make_demo(rundir), capture_output=True, text=True)
        assert refused.returncode != 0 and "is locked by a live run" in refused.stdout
        assert f"\n  {job.pid} " in refused.stdout
        assert list((rundir / ".snakemake/locks").glob("*.lock")), "the live run's lock was cleared"
    wait_for(lambda: gone(job), "end of the killed job")  # killed with its process group

    # 2. Again: the stale lock goes, the job resumes; Snakemake is killed once more and the job
    # finishes alone (its resume state removed, its outputs complete but marked incomplete).
    with started(make_demo(rundir), tmp_path / "run2.out") as demo:
        job = wait_for(train_job, "resumed train_row job")
        kill_snakemake(job)
        wait_for(lambda: gone(job), "end of the resumed job")
    assert "cleared the lock that a killed run left" in (tmp_path / "run2.out").read_text()
    assert (target / "seed_1/history.json").exists() and not state.exists()
    before, after = log.read_text().split(f"resuming after epoch {killed['epoch']} from {state.relative_to(rundir)}")
    epochs = [[int(e) for e in re.findall(r"^epoch (\d+)/", part, re.M)] for part in (before, after)]
    assert epochs == [list(range(1, killed["epoch"] + 1)), list(range(killed["epoch"] + 1, EPOCHS + 1))]
    history = json.loads((target / "seed_0/history.json").read_text())
    assert history["seconds"] >= killed["seconds"] + sum(e["seconds"] for e in history["epochs"][killed["epoch"]:])

    # 3. Again: the incomplete output is made again (from epoch 1, its state gone), the rest after it.
    finished = subprocess.run(make_demo(rundir), capture_output=True, text=True)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "cleared the lock that a killed run left" in finished.stdout
    assert "resuming" not in log.read_text()
    assert compare(reference / "results", rundir / "results", (".log", ".html", ".snakemake_timestamp")) == []
