"""The demo data set: scenarios, LLP-format annotation files, rendering, sound and mp4 clips."""
from __future__ import annotations

import av
import decord
import numpy as np
import pytest

from vplan_core.data import annotations as llp
from vplan_core.data.description import LLP
from vplan_core.demo.clips import write_clip
from vplan_core.demo.render import SHAPES, appearance, render_frame, render_object_image
from vplan_core.demo.scenarios import (
    ID_ALPHABET,
    load_scenarios,
    make_scenarios,
    save_scenarios,
    write_llp_csvs,
)
from vplan_core.demo.sound import class_sound, render_audio, sound_params

# One Dog event: heard during 2-6 s, seen during 3-7 s, alone in the middle of the frame.
DOG_SCENARIO = {
    "split": "val", "video_id": "dOg_-123456", "filename": "dOg_-123456_30_40",
    "events": [{"class": "Dog", "modality": "audio_visual", "audio": [2, 6], "visual": [3, 7]}],
    "render": {"background_seed": 1, "audio_seed": 2, "gains": {"Dog": 1.0},
               "objects": {"Dog": {"x": 0.5, "y": 0.5, "scale": 0.15, "vx": 0.0, "vy": 0.0,
                                   "angle": 0.0}}},
}


def test_scenarios_are_deterministic_and_well_formed():
    scenarios = make_scenarios(20, 5, 5, seed=0)
    assert scenarios == make_scenarios(20, 5, 5, seed=0)
    assert scenarios != make_scenarios(20, 5, 5, seed=1)
    assert [s["split"] for s in scenarios] == ["train"] * 20 + ["val"] * 5 + ["test"] * 5
    ids = [s["video_id"] for s in scenarios]
    assert len(set(ids)) == len(ids)
    for s in scenarios:
        vid = s["video_id"]
        assert len(vid) == 11 and set(vid) <= set(ID_ALPHABET)
        start, end = (int(x) for x in s["filename"][12:].split("_"))
        assert s["filename"] == f"{vid}_{start}_{end}" and start % 10 == 0 and end == start + 10
        classes = [e["class"] for e in s["events"]]
        assert 1 <= len(classes) <= 3 and len(set(classes)) == len(classes)
        assert set(classes) <= set(LLP.classes)
        for e in s["events"]:
            assert (e["audio"] is not None) == (e["modality"] != "visual")
            assert (e["visual"] is not None) == (e["modality"] != "audio")
            for span in (e["audio"], e["visual"]):
                assert span is None or 0 <= span[0] < span[1] <= 10
                assert span is None or all(isinstance(v, int) for v in span)
            if e["modality"] == "audio_visual":
                assert max(e["audio"][0], e["visual"][0]) < min(e["audio"][1], e["visual"][1])
        assert set(s["render"]["objects"]) == {e["class"] for e in s["events"] if e["visual"]}


def test_eval_splits_do_not_depend_on_the_training_set_size():
    small, large = make_scenarios(3, 4, 4, seed=7), make_scenarios(30, 4, 4, seed=7)
    assert small[3:] == large[30:]


def test_label_proportions_resemble_llp():
    scenarios = make_scenarios(seed=0)  # the demo default: 200 / 50 / 50
    events = [e for s in scenarios for e in s["events"]]
    invisible = np.mean([e["visual"] is None for e in events])
    inaudible = np.mean([e["audio"] is None for e in events])
    assert 0.25 < invisible < 0.42  # LLP: the weak label as visual label has precision ~0.65
    assert 0.0 < inaudible < 0.15
    assert any("_" in s["video_id"] or "-" in s["video_id"] for s in scenarios)


def test_llp_csvs_follow_the_llp_format(tmp_path):
    scenarios = make_scenarios(6, 4, 4, seed=3)
    paths = write_llp_csvs(scenarios, tmp_path)
    assert sorted(p.name for p in paths.values()) == sorted(
        ["AVVP_train.csv", "AVVP_val_pd.csv", "AVVP_test_pd.csv", "AVVP_eval_audio.csv",
         "AVVP_eval_visual.csv", "AVVP_dataset_full.csv"])
    for path in paths.values():
        lines = path.read_text(encoding="utf-8").split("\n")
        assert lines[-1] == "" and all(lines[:-1])  # one trailing newline, no blank lines
        width = len(lines[0].split("\t"))
        assert lines[0] in ("filename\tevent_labels", "filename\tonset\toffset\tevent_labels")
        assert all(len(line.split("\t")) == width and " " not in line for line in lines[:-1])

    by_name = {s["filename"]: s for s in scenarios}
    for split in ("train", "val", "test"):
        data = llp.load_split(tmp_path, split)
        assert data.filenames == [s["filename"] for s in scenarios if s["split"] == split]
        for f, weak in zip(data.filenames, data.weak_labels):
            expected = {e["class"] for e in by_name[f]["events"]}
            assert {LLP.classes[c] for c in np.flatnonzero(weak)} == expected
        if split == "train":
            continue
        for modality, gt in (("audio", data.gt_audio), ("visual", data.gt_visual)):
            for f, dense in zip(data.filenames, gt):
                expected = np.zeros((10, 25), np.uint8)
                for e in by_name[f]["events"]:
                    if e[modality]:
                        expected[e[modality][0]:e[modality][1], LLP.class_index[e["class"]]] = 1
                np.testing.assert_array_equal(dense, expected)
    full, _ = llp.read_weak_labels(paths["AVVP_dataset_full.csv"])
    assert full == [s["filename"] for s in scenarios]
    eval_rows = paths["AVVP_eval_visual.csv"].read_text().splitlines()[1:] \
        + paths["AVVP_eval_audio.csv"].read_text().splitlines()[1:]
    assert eval_rows and all(by_name[r.split("\t")[0]]["split"] != "train" for r in eval_rows)
    assert all(int(r.split("\t")[1]) < int(r.split("\t")[2]) for r in eval_rows)


def test_scenarios_round_trip_through_json(tmp_path):
    scenarios = make_scenarios(3, 1, 1, seed=0)
    save_scenarios(scenarios, tmp_path / "scenarios.json")
    assert load_scenarios(tmp_path / "scenarios.json") == scenarios


def test_every_class_looks_different():
    looks = [appearance(c) for c in range(len(LLP.classes))]
    assert len(set(looks)) == len(looks)
    assert len({(shape, colour) for shape, colour, _ in looks}) == len(looks)
    assert {shape for shape, _, _ in looks} == set(SHAPES)
    img = render_object_image(3, np.random.default_rng(0), 144)
    assert img.shape == (144, 144, 3) and img.dtype == np.uint8


def test_objects_are_drawn_only_during_their_visual_span():
    centre = np.s_[50:94, 74:118]  # around the Dog object
    before, during, after = (render_frame(DOG_SCENARIO, t)[centre].astype(int) for t in (2.5, 5.0, 7.0))
    np.testing.assert_array_equal(before, after)
    assert np.abs(during - before).mean() > 20


def test_sounds_differ_between_classes_and_sound_only_in_their_span():
    assert len({sound_params(c)[1] for c in range(25)}) == 25  # every class its own pitch
    spectra = []
    edges = np.geomspace(125, 7500, 65)  # VGGish's mel range
    freqs = np.fft.rfftfreq(16000, 1 / 16000)
    for c in range(25):
        power = np.abs(np.fft.rfft(class_sound(c, 16000, 16000, np.random.default_rng(c)))) ** 2
        bands = np.log([power[(freqs >= a) & (freqs < b)].sum() + 1e-3
                        for a, b in zip(edges[:-1], edges[1:])])
        spectra.append((bands - bands.mean()) / np.linalg.norm(bands - bands.mean()))
    similarity = np.array(spectra) @ np.array(spectra).T
    assert similarity[~np.eye(25, dtype=bool)].max() < 0.98

    audio = render_audio(DOG_SCENARIO, 16000)
    assert audio.dtype == np.float32 and audio.shape == (160000,)
    rms = [np.sqrt(np.mean(audio[a * 1600:b * 1600] ** 2)) for a, b in ((0, 20), (20, 60), (60, 100))]
    assert rms[1] > 10 * rms[0] and rms[1] > 10 * rms[2]


@pytest.fixture(scope="module")
def dog_clip(tmp_path_factory):
    return write_clip(DOG_SCENARIO, tmp_path_factory.mktemp("clips") / "dOg_-123456.mp4")


def test_clip_opens_with_pyav(dog_clip):
    assert not list(dog_clip.parent.glob(".*"))  # no temporary file left behind
    with av.open(str(dog_clip)) as container:
        assert container.duration / av.time_base == pytest.approx(10.0, abs=0.1)
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, video.width, video.height) == ("h264", 192, 144)
        assert video.codec_context.pix_fmt == "yuv420p" and video.average_rate == 24
        assert audio.codec_context.name == "aac" and audio.sample_rate == 44100
        frames = {round(float(f.time), 3): f.to_ndarray(format="rgb24")
                  for f in container.decode(video=0)}
    assert len(frames) == 240
    centre = np.s_[50:94, 74:118]
    diff = np.abs(frames[5.0][centre].astype(int) - frames[1.0][centre].astype(int)).mean()
    assert diff > 20  # the Dog object is on screen at 5 s, not at 1 s


def test_clip_opens_with_decord(dog_clip):
    video = decord.VideoReader(str(dog_clip))
    assert len(video) == 240 and video.get_avg_fps() == pytest.approx(24.0)
    assert video[0].shape == (144, 192, 3)
    sound = decord.AudioReader(str(dog_clip), sample_rate=16000, mono=True)
    assert sound.duration() == pytest.approx(10.0, abs=0.1)
    wave = sound[:].asnumpy()[0]
    rms_in = np.sqrt(np.mean(wave[int(2.2 * 16000):int(5.8 * 16000)] ** 2))
    rms_out = np.sqrt(np.mean(wave[int(6.2 * 16000):int(9.8 * 16000)] ** 2))
    assert rms_in > 10 * rms_out


# ---------------------------------------------------------------- hard conditions (scenarios.py)
@pytest.fixture(scope="module")
def default_scenarios():
    return make_scenarios(seed=0)  # the demo default: 200 / 50 / 50


def test_hard_conditions_occur_in_their_documented_proportions(default_scenarios):
    from vplan_core.demo.render import CONDITIONS, SMALL_SCALE
    from vplan_core.demo.scenarios import ENTER_P, LEAVE_P, MOVE_MIN_S, N_DISTRACTORS_P

    scenarios = default_scenarios
    objects = [o for s in scenarios for o in s["render"]["objects"].values()]
    distractors = [d for s in scenarios for d in s["render"]["distractors"]]
    everything = objects + distractors
    n_obj, n_clip = len(everything), len(scenarios)

    def near(share: float, p: float, n: int) -> bool:  # within 3.5 binomial standard deviations
        return abs(share - p) <= 3.5 * np.sqrt(p * (1 - p) / n)

    assert near(np.mean([o["scale"] <= SMALL_SCALE[1] for o in everything]), CONDITIONS["small"], n_obj)
    assert near(np.mean([o["occluder"] is not None for o in everything]), CONDITIONS["occluded"], n_obj)
    movable = [o for o in everything if o["presence"][1] - o["presence"][0] >= MOVE_MIN_S]
    assert near(np.mean(["enter" in o for o in movable]), ENTER_P, len(movable))
    assert near(np.mean(["leave" in o for o in movable]), LEAVE_P, len(movable))
    assert not any("enter" in o or "leave" in o for o in everything if o not in movable)
    for key in ("dark", "blur"):
        assert near(np.mean([s["render"]["effects"][key] is not None for s in scenarios]), CONDITIONS[key], n_clip)
    counts = np.bincount([len(s["render"]["distractors"]) for s in scenarios], minlength=3)
    for k, p in enumerate(N_DISTRACTORS_P):
        assert near(counts[k] / n_clip, p, n_clip)


def test_unlabelled_objects_are_in_neither_the_label_nor_the_ground_truth(default_scenarios, tmp_path):
    scenarios = [s for s in default_scenarios if s["split"] != "train"]
    assert sum(len(s["render"]["distractors"]) for s in scenarios) > 10
    write_llp_csvs(scenarios, tmp_path)
    by_name = {s["filename"]: s for s in scenarios}
    for split in ("val", "test"):
        data = llp.load_split(tmp_path, split)
        for f, weak, gt in zip(data.filenames, data.weak_labels, data.gt_visual):
            for d in by_name[f]["render"]["distractors"]:
                c = LLP.class_index[d["class"]]
                assert weak[c] == 0 and gt[:, c].sum() == 0


def _object_pixels(scenario: dict, cls: str, t: float) -> tuple[int, int]:
    """(pixels the object changes at t, pixels it covers when wholly in the frame), from the
    clip rendered with and without it (and without anything else that could hide it)."""
    from vplan_core.demo.render import ClipRenderer, object_sprite

    obj = {**scenario["render"]["objects"][cls], "occluder": None}  # occluders hide, not show
    scenario = {**scenario, "events": [e for e in scenario["events"] if e["class"] == cls],
                "render": {**scenario["render"], "effects": None, "distractors": [],
                           "objects": {cls: obj}}}  # the object alone over the clip's background
    without = {**scenario, "events": []}
    a = ClipRenderer(scenario).frame(t).astype(int)
    b = ClipRenderer(without).frame(t).astype(int)
    _, alpha = object_sprite(LLP.class_index[cls], obj["scale"] * 144, obj["angle"])
    return int((np.abs(a - b).sum(-1) > 30).sum()), int((alpha[..., 0] > 0.5).sum())


def test_visual_ground_truth_holds_only_the_seconds_an_object_is_in_view(default_scenarios):
    """Rendered pixels, not the scenario's own geometry: an object that has not yet walked
    in, or has walked out, is not in the visual ground truth of that second."""
    moving = [(s, e) for s in default_scenarios if s["split"] == "val" for e in s["events"]
              if e["visual"] and {"enter", "leave"} & set(s["render"]["objects"][e["class"]])]
    assert len(moving) >= 5
    trimmed = 0
    for s, e in moving:
        obj = s["render"]["objects"][e["class"]]
        onset, offset = obj["presence"]
        assert onset <= e["visual"][0] < e["visual"][1] <= offset
        for second in range(onset, offset):
            shares = []
            for k in range(8):
                shown, full = _object_pixels(s, e["class"], second + (k + 0.5) / 8)
                shares.append(shown / full)
            shares = np.array(shares)
            if e["visual"][0] <= second < e["visual"][1]:  # mostly in view most of the second
                assert np.mean(shares > 0.4) >= 0.5, (s["video_id"], e["class"], second, shares)
            else:  # not in the ground truth: mostly outside the frame most of the second
                trimmed += 1
                assert np.mean(shares > 0.6) < 0.5, (s["video_id"], e["class"], second, shares)
        outside = [t for t in range(10) if not onset <= t < offset]
        assert all(_object_pixels(s, e["class"], t + 0.5)[0] == 0 for t in outside)
    assert trimmed >= 1  # some of them do spend a second at the edge


def test_dark_and_blurred_clips_look_dark_and_blurred():
    from vplan_core.demo.render import apply_frame_effects

    frame = render_frame(DOG_SCENARIO, 5.0)
    dark = apply_frame_effects(frame, {"dark": 0.4, "blur": None})
    blurred = apply_frame_effects(frame, {"dark": None, "blur": 0.012})
    assert dark.mean() < 0.5 * frame.mean()

    def sharpness(img: np.ndarray) -> float:
        return float(np.abs(np.diff(img.astype(int), axis=1)).mean())

    assert sharpness(blurred) < 0.6 * sharpness(frame)
    np.testing.assert_array_equal(apply_frame_effects(frame, {"dark": None, "blur": None}), frame)
