"""VALOR's labels remade from the videos against its released ones, per modality and split.

Reads a run of config/llp_valor_from_videos.yaml (or any run with PLG and released labels of a
modality): PLG's segment labels (labels/plg/<feature>/<split>.npz) and VALOR's released ones
(labels/released/<modality>/<split>.npz) on the videos both have. Prints how far the remade labels
agree with the released ones (the released taken as reference: precision, recall, and the share
of videos whose 10 x 25 labels are identical), and, on splits with dense truth (val, test), each
set's video-level precision/recall and segment/event F against it (label_quality, Tables I-II).

    snakemake --configfile config/llp_valor_from_videos.yaml \\
        results/llp_valor_videos/labels/plg/{clip,clap}/{train,val,test}.npz \\
        results/llp_valor_videos/labels/released/{visual,audio}/{train,val,test}.npz
    .venv/bin/python studies/remade_vs_released_labels.py --results results/llp_valor_videos --annotations ../shared/llp
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from vplan_core.data.dataset import load_labels
from vplan_core.data.annotations import load_split
from vplan_core.evaluation.label_quality import label_quality

FEATURES = {"visual": "clip", "audio": "clap"}  # modality -> the pseudo-label feature that remakes it


def agreement(remade: np.ndarray, released: np.ndarray) -> dict[str, float]:
    """Segment labels [N, 10, 25] of the remade set against the released set as reference."""
    both = int((remade & released).sum())
    return {"videos": len(remade), "released_positives": int(released.sum()), "remade_positives": int(remade.sum()),
            "precision": 100.0 * both / max(int(remade.sum()), 1), "recall": 100.0 * both / max(int(released.sum()), 1),
            "identical_videos": 100.0 * float(np.mean((remade == released).all(axis=(1, 2))))}


def compare(results: Path, annotations: str, modality: str, split_name: str) -> dict | None:
    remade_path = results / "labels" / "plg" / FEATURES[modality] / f"{split_name}.npz"
    released_path = results / "labels" / "released" / modality / f"{split_name}.npz"
    if not (remade_path.is_file() and released_path.is_file()):
        return None
    with np.load(remade_path) as remade, np.load(released_path) as released:
        common = set(remade["video_ids"].tolist()) & set(released["video_ids"].tolist())
    split = load_split(annotations, split_name)
    order = [i for i, vid in enumerate(split.video_ids) if vid in common]
    ids = [split.video_ids[i] for i in order]
    labels = {"remade": load_labels(remade_path, ids).astype(bool), "released": load_labels(released_path, ids).astype(bool)}
    out = {"agreement": agreement(labels["remade"], labels["released"])}
    truth = split.gt_visual if modality == "visual" else split.gt_audio
    if truth is not None:
        subset = replace(split, filenames=[split.filenames[i] for i in order], video_ids=ids,
                         weak_labels=split.weak_labels[order], gt_audio=split.gt_audio[order],
                         gt_visual=split.gt_visual[order])
        out["against_truth"] = label_quality(subset, {k: v.astype(np.uint8) for k, v in labels.items()}, modality)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results/llp_valor_videos", help="the run's results/<dataset> folder")
    ap.add_argument("--annotations", default="../shared/llp", help="the LLP csv files")
    args = ap.parse_args()
    for modality in FEATURES:
        for split_name in ("train", "val", "test"):
            found = compare(Path(args.results), args.annotations, modality, split_name)
            if found is None:
                print(f"{modality} {split_name}: no remade or no released labels in {args.results}")
                continue
            a = found["agreement"]
            print(f"{modality} {split_name}: {a['videos']} videos; remade vs released: precision {a['precision']:.1f}, "
                  f"recall {a['recall']:.1f}, identical videos {a['identical_videos']:.1f}% "
                  f"({a['remade_positives']} vs {a['released_positives']} positive segment labels)")
            for name, f in found.get("against_truth", {}).get("segment_event", {}).items():
                video = found["against_truth"]["video_level"][name]
                print(f"    {name:8s} against the truth: video P {video['precision']:.1f} R {video['recall']:.1f}, "
                      f"segment F {f['segment_f']:.1f}, event F {f['event_f']:.1f}")


if __name__ == "__main__":
    main()
