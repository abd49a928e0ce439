"""An LFAV release in miniature for the tests: LFAV's real annotation files (tests/data/lfav,
all of them, dirty rows included) and generated features, in the released layout, for a few
of its videos, each of its own length; every other video has no features (the manifest's
"missing"), as a user's incomplete download."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.paths import REPO
from vplan_core.data.description import describe
from vplan_core.data.shards import split_video_ids

LFAV = describe("lfav")
ANNOTATIONS = REPO / "tests/data/lfav/LFAV_dataset"
# test videos with rows of onset after offset and of zero length (and, at these lengths, past the end)
DIRTY_TEST = ("LLvp37-CsT0", "kShrO0yutUQ")
DIRTY_VAL = ("hgT707uizYI",)


def chosen_ids(n_train: int = 12, n_val: int = 4, n_test: int = 4) -> dict[str, list[str]]:
    """The first videos of each split, the dirty ones among val's and test's."""
    ids = {split: split_video_ids(ANNOTATIONS, split, LFAV) for split in ("train", "val", "test")}
    dirty = {"val": DIRTY_VAL, "test": DIRTY_TEST}
    return {split: list(dict.fromkeys([*dirty.get(split, ()), *ids[split]]))[:n]
            for split, n in (("train", n_train), ("val", n_val), ("test", n_test))}


def write_release(folder: Path, ids: dict[str, list[str]], seed: int = 0, min_rows: int = 3,
                  max_rows: int = 40) -> dict[str, int]:
    """<folder>/<released folder>/<id>.npy for every chosen video, T rows each (T drawn from
    [min_rows, max_rows]); the features carry each class of the video's weak label as a direction,
    so that training has something to learn. Returns id -> T."""
    rng = np.random.default_rng(seed)
    from vplan_core.data.annotations import load_split

    lengths = {}
    for split, chosen in ids.items():
        data = load_split(ANNOTATIONS, split, LFAV)
        index = {vid: i for i, vid in enumerate(data.video_ids)}
        for vid in chosen:
            rows = int(rng.integers(min_rows, max_rows + 1))
            lengths[vid] = rows
            label = data.weak_labels[index[vid]].astype(np.float32)
            for feature, spec in LFAV.released_features.items():
                width = spec.shape[1]
                direction = np.resize(label, width)
                x = rng.normal(0.0, 1.0, (rows, width)).astype(np.float32) + 2.0 * direction
                out = folder / spec.folder / f"{vid}.npy"
                out.parent.mkdir(parents=True, exist_ok=True)
                np.save(out, x)
    return lengths
