"""Feature stores: atomic writes, provenance attrs, loading across shards and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from vplan_core import feature_store as store
from vplan_core.feature_store import available_ids, load_features, read_store, store_lengths, write_store

ATTRS = {"feature": "vggish", "model": "vggish", "weights": "random-seed-0",
         "weights_sha256": "", "sampling": {"sample_rate": 16000}}


def feats(n: int, offset: float = 0.0) -> np.ndarray:
    return (np.arange(n * 20, dtype=np.float32).reshape(n, 10, 2) + offset)


def test_round_trip_attrs_and_chunks(tmp_path):
    path = write_store(tmp_path / "s.zarr", feats(3), ["a", "b", "c"], ATTRS)
    data, ids, attrs = read_store(path)
    np.testing.assert_array_equal(data, feats(3))
    assert ids == ["a", "b", "c"] and attrs["shape"] == [10, 2]
    assert attrs["weights"] == "random-seed-0" and attrs["code_version"].startswith("vplan ")
    group = zarr.open_group(str(path), mode="r")
    assert group["features"].chunks[0] == store.CHUNK_VIDEOS
    assert group.metadata.zarr_format == 3


def test_empty_store_keeps_shape(tmp_path):
    write_store(tmp_path / "e.zarr", np.zeros((0, 10, 2), np.float32), [], ATTRS)
    data, ids, attrs = read_store(tmp_path / "e.zarr")
    assert data.shape == (0, 10, 2) and ids == [] and attrs["shape"] == [10, 2]
    write_store(tmp_path / "f.zarr", feats(2), ["x", "y"], ATTRS)
    out = load_features([tmp_path / "e.zarr", tmp_path / "f.zarr"], ["y"])
    np.testing.assert_array_equal(out[0], feats(2)[1])


def test_write_errors(tmp_path):
    with pytest.raises(ValueError, match="lack"):
        write_store(tmp_path / "s.zarr", feats(1), ["a"], {"feature": "x"})
    with pytest.raises(ValueError, match="2 video ids"):
        write_store(tmp_path / "s.zarr", feats(1), ["a", "b"], ATTRS)
    with pytest.raises(ValueError, match="duplicate"):
        write_store(tmp_path / "s.zarr", feats(2), ["a", "a"], ATTRS)


def test_killed_write_leaves_no_store_and_next_write_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "s.zarr"
    # A job killed before the rename: the final name must not exist.
    real_update = zarr.core.attributes.Attributes.update

    def die(self, *args, **kwargs):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(zarr.core.attributes.Attributes, "update", die)
    with pytest.raises(KeyboardInterrupt):
        write_store(path, feats(2), ["a", "b"], ATTRS)
    assert not path.exists() and (tmp_path / "s.zarr.tmp").exists()
    monkeypatch.setattr(zarr.core.attributes.Attributes, "update", real_update)

    (tmp_path / "s.zarr.tmp" / "junk").write_text("left by the killed job")
    write_store(path, feats(2), ["a", "b"], ATTRS)
    assert not (tmp_path / "s.zarr.tmp").exists()
    assert read_store(path)[1] == ["a", "b"]
    # Rewriting replaces an existing store completely.
    write_store(path, feats(1, 5.0), ["z"], ATTRS)
    data, ids, _ = read_store(path)
    assert ids == ["z"] and data[0, 0, 0] == 5.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]


def test_load_order_across_shards(tmp_path):
    a = write_store(tmp_path / "a.zarr", feats(3), ["a0", "a1", "a2"], ATTRS)
    b = write_store(tmp_path / "b.zarr", feats(2, 1000.0), ["b0", "b1"], ATTRS)
    order = ["b1", "a2", "a0", "b0"]
    out = load_features([a, b], order)
    expected = np.stack([feats(2, 1000.0)[1], feats(3)[2], feats(3)[0], feats(2, 1000.0)[0]])
    np.testing.assert_array_equal(out, expected)
    assert available_ids([a, b]) == {"a0", "a1", "a2", "b0", "b1"}
    with pytest.raises(KeyError, match=r"2 of 3 videos.*'zz', 'yy'"):
        load_features([a, b], ["a0", "zz", "yy"])


def test_nan_names_store_and_video(tmp_path):
    bad = feats(3)
    bad[1, 4, 1] = np.nan
    path = write_store(tmp_path / "nan.zarr", bad, ["ok0", "broken", "ok2"], ATTRS)
    np.testing.assert_array_equal(load_features([path], ["ok2", "ok0"])[0], feats(3)[2])
    with pytest.raises(ValueError, match=r"nan\.zarr.*video broken"):
        load_features([path], ["ok0", "broken"])
    bad[2, 0, 0] = np.inf
    path = write_store(tmp_path / "inf.zarr", bad, ["ok0", "broken", "inf"], ATTRS)
    with pytest.raises(ValueError, match="video inf"):
        load_features([path], ["inf"])


def test_shape_errors(tmp_path):
    a = write_store(tmp_path / "a.zarr", feats(1), ["a"], ATTRS)
    b = write_store(tmp_path / "b.zarr", np.zeros((1, 10, 3), np.float32), ["b"], ATTRS)
    with pytest.raises(ValueError, match=r"b\.zarr.*\[10, 3\]"):
        load_features([a, b], ["a", "b"])
    # attrs that lie about the per-video shape
    group = zarr.open_group(str(a), mode="r+")
    group.attrs["shape"] = [10, 5]
    with pytest.raises(ValueError, match=r"a\.zarr"):
        load_features([a], ["a"])


def test_duplicate_id_across_shards(tmp_path):
    a = write_store(tmp_path / "a.zarr", feats(1), ["same"], ATTRS)
    b = write_store(tmp_path / "b.zarr", feats(1), ["same"], ATTRS)
    with pytest.raises(ValueError, match="two feature stores"):
        load_features([a, b], ["same"])


def test_a_lost_chunk_reads_as_nan_and_is_refused_by_name(tmp_path):
    """An interrupted copy of results/ or a full disk loses a chunk file: its rows must not read
    as zeros that pass for features."""
    ids = [f"video{i:06d}" for i in range(150)]
    path = write_store(tmp_path / "lost.zarr", feats(150), ids, ATTRS)
    (path / "features" / "c" / "1" / "0" / "0").unlink()  # rows 64-127
    np.testing.assert_array_equal(load_features([path], ids[:64] + ids[128:]),
                                  np.concatenate([feats(150)[:64], feats(150)[128:]]))
    with pytest.raises(ValueError, match=r"lost\.zarr: NaN/inf in video video000064 and 63 more "
                                         r"\(feature vggish, rows 64-127; a lost chunk file reads as NaN"):
        load_features([path], ids)


def test_an_older_store_with_a_lost_chunk_is_refused_by_name(tmp_path):
    """Stores written before the NaN fill value (fill value 0, as zarr's default) read a lost chunk
    as zeros: their missing chunk files are counted when opened."""
    path = tmp_path / "old.zarr"
    group = zarr.open_group(store=str(path), mode="w", zarr_format=3)
    group.create_array("features", shape=(130, 10, 2), dtype="float32", chunks=(64, 10, 2))[...] = feats(130)
    group.attrs.update({**ATTRS, "video_ids": [f"v{i}" for i in range(130)], "shape": [10, 2]})
    assert len(load_features([path], ["v0", "v129"])) == 2
    (path / "features" / "c" / "0" / "0" / "0").unlink()
    with pytest.raises(ValueError, match=r"old\.zarr: 1 of its 3 chunk files are missing.*write the store again"):
        load_features([path], ["v129"])


# ---------------------------------------------------------------- ragged stores: videos of any length
def videos(lengths: list[int], width: int = 3, offset: float = 0.0) -> list[np.ndarray]:
    """Per-video [T_i, width] arrays whose values say video, row and column."""
    return [np.arange(t * width, dtype=np.float32).reshape(t, width) + 1000 * i + offset
            for i, t in enumerate(lengths)]


def test_ragged_round_trip_lengths_and_order(tmp_path):
    a = write_store(tmp_path / "a.zarr", videos([1, 7, 160]), ["a0", "a1", "a2"], ATTRS)
    b = write_store(tmp_path / "b.zarr", videos([5], offset=0.5), ["b0"], ATTRS)
    data, ids, attrs = read_store(a)
    assert attrs["shape"] == [None, 3] and attrs["lengths"] == [1, 7, 160] and ids == ["a0", "a1", "a2"]
    for got, want in zip(data, videos([1, 7, 160])):
        np.testing.assert_array_equal(got, want)
    assert zarr.open_group(str(a), mode="r")["features"].chunks == (store.CHUNK_ROWS, 3)
    order = ["a2", "b0", "a0", "a1"]
    out = load_features([a, b], order)
    want = [videos([1, 7, 160])[2], videos([5], offset=0.5)[0], videos([1, 7, 160])[0], videos([1, 7, 160])[1]]
    assert isinstance(out, list) and [o.dtype for o in out] == [np.float32] * 4
    for got, expected in zip(out, want):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(store_lengths([a, b], order), [160, 5, 1, 7])
    assert available_ids([a, b]) == {"a0", "a1", "a2", "b0"}
    with pytest.raises(KeyError, match=r"1 of 2 videos.*'zz'"):
        load_features([a, b], ["a0", "zz"])


def test_empty_ragged_store_needs_and_keeps_its_shape(tmp_path):
    with pytest.raises(ValueError, match=r"empty ragged store needs its per-video shape"):
        write_store(tmp_path / "e.zarr", [], [], ATTRS)
    empty = write_store(tmp_path / "e.zarr", [], [], ATTRS, shape=[None, 3])
    assert read_store(empty)[2]["shape"] == [None, 3] and read_store(empty)[0] == []
    full = write_store(tmp_path / "f.zarr", videos([4]), ["x"], ATTRS, shape=[None, 3])
    np.testing.assert_array_equal(load_features([empty, full], ["x"])[0], videos([4])[0])


def test_ragged_write_and_mixing_errors(tmp_path):
    with pytest.raises(ValueError, match=r"video b: features of shape \(2, 4\), the store's videos are \[T, 3\]"):
        write_store(tmp_path / "s.zarr", [np.zeros((3, 3)), np.zeros((2, 4))], ["a", "b"], ATTRS)
    with pytest.raises(ValueError, match=r"video a: features of shape \(3, 3\).*\[T, 4\]"):
        write_store(tmp_path / "s.zarr", [np.zeros((3, 3))], ["a"], ATTRS, shape=[None, 4])
    with pytest.raises(ValueError, match="2 video ids for 1 per-video arrays"):
        write_store(tmp_path / "s.zarr", videos([2]), ["a", "b"], ATTRS)
    ragged = write_store(tmp_path / "ragged.zarr", videos([2]), ["r"], ATTRS)
    fixed = write_store(tmp_path / "fixed.zarr", feats(1)[:, :, :1].repeat(3, axis=2), ["f"], ATTRS)
    for order in ([ragged, fixed], [fixed, ragged]):
        with pytest.raises(ValueError, match=r"ragged\.zarr holds videos of any length .* but .*fixed\.zarr videos "
                                             r"of one length: the shards of feature vggish must be written alike"):
            load_features(order, ["r", "f"])
    group = zarr.open_group(str(ragged), mode="r+")  # attrs that lie about the lengths
    group.attrs["lengths"] = [3]
    with pytest.raises(ValueError, match=r"ragged\.zarr: array \(2, 3\) does not match .* 1 lengths of 3 rows"):
        load_features([ragged], ["r"])


def test_fixed_store_lengths(tmp_path):
    path = write_store(tmp_path / "s.zarr", feats(2), ["a", "b"], ATTRS)
    np.testing.assert_array_equal(store_lengths([path], ["b", "a"]), [10, 10])


def test_a_lost_chunk_of_a_ragged_store_is_refused_by_name(tmp_path):
    """A ragged store's rows are chunked across videos: a lost chunk file names each video with
    rows in it, and the others still load."""
    lengths = [10000, 10000, 10000, 5]  # rows 0-16383 in chunk 0, 16384-30004 in chunk 1
    ids = ["first", "across", "third", "last"]
    path = write_store(tmp_path / "lost.zarr", videos(lengths, width=2), ids, ATTRS)
    (path / "features" / "c" / "1" / "0").unlink()
    np.testing.assert_array_equal(load_features([path], ["first"])[0], videos(lengths, width=2)[0])
    with pytest.raises(ValueError, match=r"lost\.zarr: NaN/inf in video across and 2 more \(feature vggish, "
                                         r"rows 16384-30004; a lost chunk file reads as NaN"):
        load_features([path], ids)
    with pytest.raises(ValueError, match=r"NaN/inf in video last \(feature vggish, rows 30000-30004;"):
        load_features([path], ["first", "last"])
