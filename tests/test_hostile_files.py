"""Small hostile files cost bounded time and memory, and are refused by name (issue 36, "bounded
work for any file"): zip bombs of released labels and of prediction files, a TorchScript archive
of exponentially shared references, checkpoints whose settings describe a huge model, and
checkpoints with non-finite weights.

Each file is built here for real (zipfile, np.lib.format, pickle opcodes, torch.save,
save_pretrained). The costly calls run in a child process (measure) under an address-space
limit of 1 GiB beyond what its imports took, so code that would read a bomb whole fails there
instead of taking the machine's memory; the child reports the outcome, the seconds, the peak of
traced allocations (Python and numpy: tracemalloc) and its peak resident size less its resident
size before the call (VmHWM, reset then: torch's allocations too).
"""
from __future__ import annotations

import json
import pickle
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.media import Audio, write_video
from tests.paths import LLP_DIR, REPO
from tests.test_clap import tiny_config
from tests.test_parse import write_tiny_model
from tests.test_released_labels import IDS, split_of
from vplan_core.cli import main

MB = 1 << 20
CHILD = """
import json, resource, sys, time, tracemalloc
{imports}
def status(key):
    return int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith(key))) * 1024
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # the peak resident size (VmHWM) starts again from the current one
rss_before = status("VmRSS:")
resource.setrlimit(resource.RLIMIT_AS, (status("VmSize:") + (1 << 30), resource.RLIM_INFINITY))
tracemalloc.start()
started = time.perf_counter()
try:
    result = {{"value": repr({call})}}
except BaseException as exc:
    result = {{"error": type(exc).__name__, "message": " ".join(str(exc).split())}}
result["seconds"] = time.perf_counter() - started
result["traced_peak"] = tracemalloc.get_traced_memory()[1]
result["rss_growth"] = status("VmHWM:") - rss_before
print(json.dumps(result))
"""


def measure(imports: str, call: str, timeout: float = 120) -> dict:
    """{"value" or "error", "message", "seconds", "traced_peak", "rss_growth"} of `call` in a
    child process (see the module docstring)."""
    run = subprocess.run([sys.executable, "-c", CHILD.format(imports=imports, call=call)], cwd=REPO,
                         capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.splitlines()[-1])


def write_npy_member(archive: zipfile.ZipFile, name: str, shape: tuple, dtype, data_bytes: int) -> None:
    """A member whose header announces `shape` of `dtype`, followed by data_bytes zero bytes
    (streamed: the test never holds them), compressed as the archive says."""
    with archive.open(name, "w", force_zip64=True) as member:
        np.lib.format.write_array_header_1_0(member, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                      "fortran_order": False, "shape": shape})
        chunk = bytes(MB)
        for start in range(0, data_bytes, MB):
            member.write(chunk[:min(MB, data_bytes - start)])


def bomb_zip(path: Path, members: dict[str, tuple[tuple, object, int]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, (shape, dtype, data_bytes) in members.items():
            write_npy_member(archive, name, shape, dtype, data_bytes)
    return path


# ---------------------------------------------------------------- released labels (CLIP.zip)
LABELS = "CLIP/segment_pseudo_labels"
BOMBS = {  # a video's label member: (shape its header announces, dtype, bytes of data)
    "rows": ((1_000_000, 25), np.int64, 1_000_000 * 25 * 8),  # 200 MB of zeros: wrong shape, compressible
    "header": ((10 ** 9, 25), np.int64, 4000),  # a header announcing 200 GB
}


@pytest.mark.parametrize("case", list(BOMBS))
def test_a_released_labels_bomb_is_refused_in_small_memory(tmp_path, case):
    zipped = bomb_zip(tmp_path / "CLIP.zip", {f"{LABELS}/{IDS[0]}.npy": BOMBS[case]})
    assert zipped.stat().st_size < 400 * 1024
    result = measure("import numpy as np\nfrom tests.test_released_labels import IDS, split_of\n"
                     "from vplan_core.data.released_labels import import_split\nimport vplan_core.features.clap",
                     f"import_split({str(zipped)!r}, split_of(IDS[:1], np.ones((1, 25), np.uint8)))")
    shape = BOMBS[case][0]
    assert result.get("error") == "OfficialFeatureError", result
    assert f"CLIP.zip/{LABELS}/{IDS[0]}.npy: shape {shape}, VALOR's segment pseudo labels are [10, 25]" \
        in result["message"]
    assert result["traced_peak"] < 100 * MB and result["rss_growth"] < 100 * MB, result


def test_released_labels_of_the_right_shape_still_read(tmp_path):
    labels = np.eye(10, 25, dtype=np.int64)
    with zipfile.ZipFile(tmp_path / "CLIP.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(f"{LABELS}/{IDS[0]}.npy", "w") as member:
            np.save(member, labels)
    from vplan_core.data.released_labels import import_split

    ids, imported, _ = import_split(tmp_path / "CLIP.zip", split_of(IDS[:1], np.ones((1, 25), np.uint8)))
    assert ids == IDS[:1]
    np.testing.assert_array_equal(imported[0], labels)


def test_an_npz_named_npy_among_official_features_is_named(tmp_path):
    from vplan_core.data.official import OfficialFeatureError, load_official, segment_feature_width

    path = tmp_path / "abcdefghijk.npy"
    with open(path, "wb") as file:
        np.savez(file, x=np.zeros((10, 128), np.float32))
    for read in (lambda: load_official(path, "vggish"), lambda: segment_feature_width(path)):
        with pytest.raises(OfficialFeatureError, match="an .npz archive of named arrays, not a .npy file of one array") as info:
            read()
        assert str(path) in str(info.value)


# ---------------------------------------------------------------- predictions (vplan evaluate)
def predictions_bomb(path: Path, split, bomb: str) -> Path:
    """A valid predictions npz for `split` plus a bomb: an unused member of 200 MB of zeros
    ("unused"), or audio_prob's header announcing 10^9 rows ("audio_prob")."""
    n = len(split.filenames)
    rng = np.random.default_rng(0)
    probs = lambda *shape: rng.choice(np.array([0.1, 0.9], np.float32), shape)  # noqa: E731 (compressible)
    arrays = {"video_ids": np.array(split.filenames), "visual_prob": probs(n, 10, 25), "video_prob": probs(n, 25)}
    if bomb == "unused":
        arrays["audio_prob"] = probs(n, 10, 25)
    np.savez_compressed(path, **arrays)
    members = {"unused": {"logits.npy": ((200 * MB // 4,), np.float32, 200 * MB)},
               "audio_prob": {"audio_prob.npy": ((10 ** 9, 10, 25), np.float32, 4000)}}[bomb]
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, (shape, dtype, data_bytes) in members.items():
            write_npy_member(archive, name, shape, dtype, data_bytes)
    return path


@pytest.mark.parametrize("bomb", ["unused", "audio_prob"])
def test_a_predictions_bomb_takes_small_memory(tmp_path, test_split, bomb):
    npz = predictions_bomb(tmp_path / "pred.npz", test_split, bomb)
    assert npz.stat().st_size < 400 * 1024
    result = measure("from vplan_core.cli import main",
                     f"main(['evaluate', {str(npz)!r}, '--split', 'test', '--annotations', {str(LLP_DIR)!r}])")
    assert result.get("value") == ("0" if bomb == "unused" else "2"), result
    assert result["traced_peak"] < 100 * MB and result["rss_growth"] < 100 * MB, result


def test_a_predictions_bomb_is_refused_by_name(tmp_path, test_split, capsys):
    npz = predictions_bomb(tmp_path / "pred.npz", test_split, "audio_prob")
    assert main(["evaluate", str(npz), "--split", "test", "--annotations", str(LLP_DIR)]) == 2
    assert f"{npz}: audio_prob: shape (1000000000, 10, 25) of float32 is " in capsys.readouterr().err


# ---------------------------------------------------------------- TorchScript archive
def shared_references_archive(path: Path, levels: int = 64) -> Path:
    """A TorchScript-shaped zip whose data.pkl is a chain of __torch__ objects, each holding the
    previous one twice: `levels` objects in the pickle, 2^levels paths through them."""
    ops = [b"\x80\x02", b"c__torch__\nM\n", b"q\x00", b")\x81q\x01}b0"]  # memo 0: class; 1: obj_0, no attributes
    for level in range(1, levels + 1):
        ops.append(b"h\x00)\x81q" + bytes([level + 1]) + b"}(")  # memo level+1: obj_level = M(); its dict:
        for name in (b"a", b"b"):
            ops.append(b"X" + struct.pack("<I", len(name)) + name + b"h" + bytes([level]))  # name: obj_{level-1}
        ops.append(b"ub0")  # setitems, build, pop
    ops.append(b"h" + bytes([levels + 1]) + b".")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"".join(ops))
        archive.writestr("archive/constants.pkl", pickle.dumps(()))
        archive.writestr("archive/version", "3\n")
    return path


def test_a_torchscript_archive_of_shared_references_is_refused_in_a_second(tmp_path):
    archive = shared_references_archive(tmp_path / "ViT-B-32.pt")
    assert archive.stat().st_size < 1500
    result = measure("from vplan_core.features.clip_checkpoints import inspect_checkpoint",
                     f"inspect_checkpoint({str(archive)!r})", timeout=60)
    assert result.get("error") == "CheckpointError", result
    assert str(archive) in result["message"] and "a module tree shares no objects" in result["message"]
    assert result["seconds"] < 1.0, result


# ---------------------------------------------------------------- parser checkpoints
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """(config, checkpoint) of an untrained HAN (d_model 16) and a 1-s clip with audio."""
    root = tmp_path_factory.mktemp("hostile-model")
    video = root / "clip.mp4"
    write_video(video, seconds=1.0, fps=8, width=32, height=32, audio=Audio())
    return (*write_tiny_model(root, frame_size=16), video)


def test_checkpoint_kwargs_of_a_huge_model_are_refused_before_it_is_built(tiny_model, tmp_path):
    payload = torch.load(tiny_model[1], weights_only=True)
    path = tmp_path / "huge.pt"
    torch.save({**payload, "model_kwargs": {**payload["model_kwargs"], "d_model": 65536}}, path)
    result = measure("from vplan_core.training.checkpoints import load_checkpoint", f"load_checkpoint({str(path)!r})")
    assert result.get("error") == "CheckpointError", result
    assert result["message"].startswith(f"{path}: its HAN weights do not fit the model its model_kwargs describe "
                                        "(size mismatch for "), result
    assert result["seconds"] < 5 and result["rss_growth"] < 100 * MB, result


def test_checkpoint_kwargs_of_endless_layers_are_refused(tmp_path):
    """MGN's depth_av = 10^9: a billion blocks would be built (on the meta device too) before any
    shape could be compared; building stops once it passes what the file's tensors allow."""
    from vplan_core.models import family

    kwargs = dict(audio_dim=8, visual_2d_dim=8, visual_3d_dim=8, dim=16, num_heads=2, num_heads_grouping=2,
                  depth_aud=1, depth_vis=1, depth_av=1)
    path = tmp_path / "deep.pt"
    torch.save({"state_dict": family("mgn").build(**kwargs).state_dict(), "family": "mgn",
                "model_kwargs": {**kwargs, "depth_av": 10 ** 9}}, path)
    result = measure("from vplan_core.training.checkpoints import load_checkpoint", f"load_checkpoint({str(path)!r})")
    assert result.get("error") == "CheckpointError", result
    assert result["message"].startswith(f"{path}: its model_kwargs do not build a MGN (they describe a model of "
                                        "far more tensors than the 214 its weights have)"), result
    assert result["seconds"] < 5 and result["rss_growth"] < 100 * MB, result


@pytest.mark.slow  # imports transformers in two processes
def test_a_clap_config_of_a_huge_model_is_refused_before_it_is_built(tmp_path):
    from transformers import ClapConfig, ClapModel

    folder = tmp_path / "clap-htsat"
    ClapModel(ClapConfig.from_dict(tiny_config(False))).save_pretrained(folder)
    for name in ("vocab.json", "merges.txt"):
        (folder / name).write_text("{}" if name.endswith("json") else "")
    config = json.loads((folder / "config.json").read_text())
    config["text_config"]["hidden_size"] = 65536
    (folder / "config.json").write_text(json.dumps(config))
    result = measure("from transformers import ClapConfig, ClapModel\nfrom vplan_core.features.clap import load_clap",
                     f"load_clap({str(folder)!r}, fusion=False)")
    assert result.get("error") == "CheckpointError", result
    assert str(folder) in result["message"] and "shape mismatch" in result["message"], result
    assert result["seconds"] < 10 and result["rss_growth"] < 100 * MB, result


def test_non_finite_weights_are_refused_by_vplan_parse(tiny_model, tmp_path, capfd):
    config, checkpoint, video = tiny_model
    payload = torch.load(checkpoint, weights_only=True)
    key = next(k for k, v in payload["state_dict"].items() if v.is_floating_point() and v.numel() > 3)
    state = dict(payload["state_dict"])
    state[key] = state[key].clone()
    state[key].view(-1)[:2] = torch.tensor([float("nan"), float("inf")])
    path = tmp_path / "diverged.pt"
    torch.save({**payload, "state_dict": state}, path)
    assert main(["parse", str(video), "--checkpoint", str(path), "--config", str(config),
                 "--out", str(tmp_path / "out")]) == 2
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err.splitlines() == [
        f"vplan parse: error: {path}: non-finite weights: {key} has 2 NaN/inf values (a diverged or damaged model)"]
