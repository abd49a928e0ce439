"""VGGish front end and model, weights loading, CNN extractors on real mp4s (tiny settings)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from tests.media import Audio, write_video
from vplan_core.features import vggish
from vplan_core.feature_registry import VGGISH_WEIGHTS_URL
from vplan_core.features.cnn import build_2d_backbone, build_r2plus1d
from vplan_core.features.extract import extract_shard
from vplan_core.feature_store import read_store
from vplan_core.features.weights import apply_weights, init_random, sha256_file
from vplan_core.data.manifest import make_record, probe_videos

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """Two used videos in LLP naming, one without audio."""
    d = tmp_path_factory.mktemp("videos")
    write_video(d / "aaaaaaaaaaa_0_10.mp4", fps=25, audio=Audio(2, 44100))
    write_video(d / "bbbbbbbbbbb_0_10.mp4", fps=30, width=80, height=60)
    found = probe_videos(["aaaaaaaaaaa", "bbbbbbbbbbb"], d)
    assert [r["status"] for r in found] == ["used", "used"]
    return found


# ---------------------------------------------------------------- VGGish front end
def test_examples_shape_and_padding():
    ex = vggish.waveform_to_examples(np.zeros(160000, np.float32))
    assert ex.shape == (10, 1, 96, 64) and ex.dtype == torch.float32
    tone = np.sin(2 * np.pi * 1000 * np.arange(30000) / 16000)  # 1.875 s, then zero padding
    short = vggish.waveform_to_examples(tone)
    assert short.shape == (10, 1, 96, 64)
    assert short[0].max() > 0 and short[2:].max() == pytest.approx(np.log(0.01))
    with pytest.raises(ValueError, match="16000"):
        vggish.waveform_to_examples(np.zeros(441000), 44100)


@pytest.mark.parametrize("freq", [300.0, 1000.0, 3000.0])
def test_sine_lands_in_its_mel_band(freq):
    t = np.arange(160000) / 16000
    ex = vggish.waveform_to_examples(0.5 * np.sin(2 * np.pi * freq * t)).numpy()
    band = int(np.argmax(ex[3, 0].mean(axis=0)))
    centres = vggish.band_centres_hz()
    assert abs(band - int(np.argmin(np.abs(centres - freq)))) <= 1
    assert centres[band] == pytest.approx(freq, rel=0.12)


def test_mel_matrix_is_htk_and_skips_dc():
    weights = vggish.mel_matrix(257)
    assert weights.shape == (257, 64) and (weights[0] == 0).all()
    assert vggish.hertz_to_mel(1000.0) == pytest.approx(1000.0, abs=0.1)  # HTK: 1000 Hz ~ 1000


# ---------------------------------------------------------------- weights
def test_random_weights_are_seeded():
    def small() -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                                   torch.nn.Flatten(), torch.nn.Linear(4, 2))
    a, b, c = small(), small(), small()
    torch.manual_seed(123)  # global RNG state must not matter
    assert apply_weights(a, "random:3", "k", "url") == ("random-seed-3", "")
    apply_weights(b, "random:3", "k", "url")
    apply_weights(c, "random:4", "k", "url")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                  b.state_dict().values()))
    assert not torch.equal(a[0].weight, c[0].weight)


def test_vggish_names_and_shapes():
    model = vggish.VGGish()
    keys = list(model.state_dict())
    assert keys[0] == "features.0.weight" and keys[-1] == "embeddings.4.bias"
    assert [k for k in keys if k.startswith("features") and k.endswith("weight")] == \
        [f"features.{i}.weight" for i in (0, 3, 6, 8, 11, 13)]
    out = model.eval()(vggish.waveform_to_examples(np.random.default_rng(0).normal(size=160000)))
    assert out.shape == (10, 128) and out.dtype == torch.float32


def test_state_dict_round_trip_and_mismatch(tmp_path):
    source = vggish.VGGish()
    init_random(source, 7)
    path = tmp_path / "vggish.pth"
    torch.save(source.state_dict(), path)
    target = vggish.VGGish()
    label, sha = apply_weights(target, str(path), "features.vggish.weights", VGGISH_WEIGHTS_URL)
    assert label == str(path.resolve()) and sha == sha256_file(path) and len(sha) == 64
    assert torch.equal(target.embeddings[4].weight, source.embeddings[4].weight)

    bad = dict(source.state_dict())
    bad.pop("features.0.bias")
    bad["embeddings.4.weight"] = torch.zeros(64, 4096)
    torch.save(bad, path)
    with pytest.raises(ValueError) as err:
        apply_weights(target, str(path), "features.vggish.weights", VGGISH_WEIGHTS_URL)
    message = str(err.value)
    for needle in ("features.vggish.weights", str(path), "features.0.bias",
                   "embeddings.4.weight", "(64, 4096)"):
        assert needle in message


def test_weights_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        apply_weights(torch.nn.Linear(2, 2), str(tmp_path / "none.pth"), "features.vggish.weights",
                      VGGISH_WEIGHTS_URL)
    assert "features.vggish.weights" in str(err.value) and VGGISH_WEIGHTS_URL in str(err.value)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="unreadable weights file.*features.vggish.weights"):
        apply_weights(torch.nn.Linear(2, 2), str(junk), "features.vggish.weights", "url")
    with pytest.raises(ValueError, match="integer seed"):
        apply_weights(torch.nn.Linear(2, 2), "random:abc", "features.vggish.weights", "url")


@pytest.mark.parametrize("form", ["pth", "pth legacy", "npz"])
def test_pca_postprocessor_from_numpy_files(tmp_path, form):
    # torchvggish's PCA file (2019) pickles numpy arrays with torch.save, in the zip or the
    # legacy format (which one cannot be checked offline: both load); Google's is an .npz.
    params = {"pca_eigen_vectors": np.eye(128, dtype=np.float32),
              "pca_means": np.zeros(128, dtype=np.float32)}
    path = tmp_path / ("vggish_pca_params.npz" if form == "npz" else "vggish_pca_params-970ea276.pth")
    if form == "npz":
        np.savez(path, **params)
    else:
        torch.save(params, path, _use_new_zipfile_serialization=form == "pth")
    post = vggish.Postprocessor.from_file(path, "features.vggish.pca_params")
    x = torch.tensor([[-3.0, 0.0, 1.0] + [2.5] * 125])
    out = post(x)
    assert out[0, :3].tolist() == [0.0, 128.0, 191.0] and out[0, 3] == 255.0


# ---------------------------------------------------------------- published weight files
# (backbone, legacy torch.save format) for the files docs/llp.md "Inputs" names. Which format each
# published file is in cannot be checked offline; both load through the same torch.load, so the
# legacy one is shown on the smaller files. VGGish's zip form: test_state_dict_round_trip_...
PUBLISHED_FORMS = [("resnet152", False),  # resnet152-394f9c45.pth
                   ("r2plus1d_18", False), ("r2plus1d_18", True),  # r2plus1d_18-91a641e6.pth
                   ("vggish", True)]  # vggish-10086976.pth


def _backbone(name: str) -> torch.nn.Module:
    if name == "vggish":
        return vggish.VGGish()
    if name == "r2plus1d_18":
        return torchvision.models.video.r2plus1d_18(weights=None)
    return getattr(torchvision.models, name)(weights=None)


@pytest.fixture(scope="module")
def published_files(tmp_path_factory):
    """Each published file written once as its publisher did: torch.save(model.state_dict())
    of the torchvision / torchvggish model (seeded random values)."""
    folder = tmp_path_factory.mktemp("published")
    files = {}
    for name in dict.fromkeys(n for n, _ in PUBLISHED_FORMS):
        source = _backbone(name)
        init_random(source, 11)
        state = source.state_dict()
        for backbone, legacy in PUBLISHED_FORMS:
            if backbone == name:
                path = folder / f"{name}{'-legacy' if legacy else ''}.pth"
                torch.save(state, path, _use_new_zipfile_serialization=not legacy)
                files[name, legacy] = path, state
    return files


@pytest.mark.parametrize("name, legacy", PUBLISHED_FORMS,
                         ids=[f"{n}{' legacy' if legacy else ''}" for n, legacy in PUBLISHED_FORMS])
def test_published_weight_files_load(published_files, name, legacy):
    path, state = published_files[name, legacy]
    if name == "vggish":
        model = vggish.VGGish()
        label, _ = apply_weights(model, str(path), "features.vggish.weights", VGGISH_WEIGHTS_URL)
    elif name == "r2plus1d_18":
        model, label, _ = build_r2plus1d(str(path))
    else:
        model, label, _ = build_2d_backbone(name, str(path))
    assert label == str(path.resolve())
    loaded = model.state_dict()
    assert set(state) - set(loaded) <= {"fc.weight", "fc.bias"}  # the classifier is removed
    assert all(torch.equal(loaded[k], v) for k, v in state.items() if k in loaded)


# ---------------------------------------------------------------- CNN extractors
def test_cnn2d_and_r2plus1d_on_real_mp4(rows, tmp_path):
    s2d = {"weights": "random:0", "backbone": "resnet18", "size": 32, "batch_size": 64}
    s3d = {"weights": "random:0", "size": 32}
    summary = extract_shard({"cnn2d": s2d, "r2plus1d": s3d}, rows,
                            {"cnn2d": tmp_path / "cnn2d.zarr", "r2plus1d": tmp_path / "r21d.zarr"})
    feats, ids, attrs = read_store(tmp_path / "cnn2d.zarr")
    assert summary["cnn2d"]["shape"] == [80, 512] and feats.shape == (2, 80, 512)
    assert ids == ["aaaaaaaaaaa", "bbbbbbbbbbb"] and attrs["weights"] == "random-seed-0"
    assert attrs["sampling"]["frame_size"] == 32 and np.isfinite(feats).all()
    assert not np.allclose(feats[:, 0], feats[:, 40])  # different frames, different features

    # Batching across videos must not mix them up: video b alone gives the same rows.
    alone = extract_shard({"cnn2d": {**s2d, "batch_size": 7}}, rows[1:], {"cnn2d": tmp_path / "b.zarr"},
                          num_workers=1)["cnn2d"]
    assert alone["n_written"] == 1
    np.testing.assert_allclose(read_store(tmp_path / "b.zarr")[0][0], feats[1], atol=1e-5)

    feats3d, _, attrs3d = read_store(tmp_path / "r21d.zarr")
    assert feats3d.shape == (2, 10, 512) and attrs3d["model"] == "r2plus1d_18"
    assert attrs3d["sampling"]["clip_len"] == 8


def test_vggish_extraction_skips_what_it_cannot_use(rows, tmp_path):
    junk = tmp_path / "ccccccccccc_0_10.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(3000))
    extra = [make_record("ccccccccccc", str(junk), "used", has_audio=1),
             make_record("ddddddddddd", "", "missing", "no file")]  # not used: ignored
    summary = extract_shard({"vggish": {"weights": "random:1"}}, [*rows, *extra],
                            {"vggish": tmp_path / "vggish.zarr"})["vggish"]
    feats, ids, attrs = read_store(tmp_path / "vggish.zarr")
    assert feats.shape == (1, 10, 128) and ids == ["aaaaaaaaaaa"]
    assert summary["skipped"] == attrs["skipped"]
    assert summary["skipped"][0] == ["bbbbbbbbbbb", "no audio stream"]
    assert summary["skipped"][1][0] == "ccccccccccc"
    assert summary["skipped"][1][1].startswith("unreadable")
    assert summary["n_videos"] == 3 and len(summary["skipped"]) == 2
    empty = extract_shard({"vggish": {"weights": "random:1"}}, rows[1:], {"vggish": tmp_path / "empty.zarr"})["vggish"]
    assert empty["n_written"] == 0 and read_store(tmp_path / "empty.zarr")[0].shape == (0, 10, 128)
