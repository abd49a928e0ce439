"""Each data set described once (vplan_core/datasets/*.yaml, data/description.py): the built-in
descriptions, a third one from a file, and descriptions that are refused by name."""
import re

import numpy as np
import pytest
import yaml

from tests.lfav_release import ANNOTATIONS
from tests.paths import REPO
from vplan_core.data.annotations import load_split, with_lengths
from vplan_core.data.description import LLP, describe

LFAV_YAML = REPO / "vplan_core/datasets/lfav.yaml"


def test_the_built_in_descriptions():
    lfav = describe("lfav")
    assert (LLP.num_classes, LLP.segments, LLP.dense_end, LLP.metric) == (25, 10, "exclusive", "llp")
    assert (lfav.num_classes, lfav.segments, lfav.dense_end, lfav.metric, lfav.train_length) == (35, None, "inclusive",
                                                                                                 "lfav", 200)
    assert lfav.modality_labels and not LLP.modality_labels
    assert LLP.eval_files == ("AVVP_train.csv", "AVVP_val_pd.csv", "AVVP_test_pd.csv", "AVVP_eval_audio.csv",
                              "AVVP_eval_visual.csv")  # the order the rules list them in, as before


def test_lfavs_weak_labels_as_its_loader_reads_them():
    """' playing_badminton' is stripped, 'silent' ignored, and the unknown 'train' and
    'toilet_flush' of the visual files skipped and named (the official loader prints them)."""
    train, val = load_split(ANNOTATIONS, "train", describe("lfav")), load_split(ANNOTATIONS, "val", describe("lfav"))
    assert train.weak_audio.shape == train.weak_visual.shape == (3721, 35)
    assert (np.maximum(train.weak_audio, train.weak_visual) == train.weak_labels).all()
    assert [n for n in val.notes if "'train' skipped" in n] and all("line" in n for n in val.notes)
    assert val.gt_audio is None and val.events["audio"]  # GT waits for the videos' lengths
    sized = with_lengths(val, np.full(len(val.filenames), 5), describe("lfav"))
    assert sized.gt_audio.shape == (486, 5, 35)


def test_a_third_data_set_is_a_file(tmp_path):
    data = yaml.safe_load(LFAV_YAML.read_text())
    data.update(name="lfav_tenths", segments=10, metric="llp")
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    mine = describe(str(path))
    assert mine.fixed_length and mine.source == str(path)
    assert load_split(ANNOTATIONS, "test", mine).gt_visual.shape == (968, 10, 35)  # GT at once: fixed length


@pytest.mark.parametrize("change, message", [
    ({"dense_end": "both"}, "dense_end must be exclusive or inclusive"),
    ({"segments": 0}, "segments must be a positive integer or null"),
    ({"metric": "mine"}, "metric must be one of"),
    ({"classes": ["a", "a"]}, "classes must be a non-empty list without repeats"),
    ({"colour": "red"}, "unknown keys ['colour']"),
])
def test_a_broken_description_is_refused_by_name(tmp_path, change, message):
    data = {**yaml.safe_load(LFAV_YAML.read_text()), **change}
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=f"data set description {re.escape(str(path))}: .*{re.escape(message)}"):
        describe(str(path))
    with pytest.raises(FileNotFoundError, match="neither a built-in one"):
        describe(str(tmp_path / "absent.yaml"))
