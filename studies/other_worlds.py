"""Are the demo's row differences properties of this kind of world, or of one draw of it?

The report's ± covers the training seeds only; the demo world (its clips, its pretrained
backbones, its CLIP) is one draw. This runs the whole workflow again on other draws, world w
being config.yaml with every world seed (demo.seed, demo.clip_training.seed and each
demo.backbone_training.*.seed) set to w, under its own dataset name (`demo_world<w>`, so
nothing of the committed demo is touched), then prints, for each world and over the worlds,
the segment-level test cells of every row, the val label-quality figures and the issue's claims
as paired differences within a world: mean over worlds ± std over worlds of the per-world means
over training seeds. World 0 is the committed demo
(results/demo), which must have been run first. Each extra world costs one `make demo`.

    make demo && .venv/bin/python studies/other_worlds.py --worlds 1 2
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from vplan_core.method.ablation import ROWS, VPLAN_ROW

CELLS = ("audio", "visual", "audio_visual", "type_at_av")
# The claims as paired differences within a world: (name, minuend, subtrahend).
CLAIMS = (("② − ① V", "row2_plg visual", "row1_han visual"),
          ("② − ① AV", "row2_plg audio_visual", "row1_han audio_visual"),
          ("⑤ − ① Type@AV", "row5_vplan type_at_av", "row1_han type_at_av"),
          ("⑤ − ④ Type@AV", "row5_vplan type_at_av", "row4_plg_rl type_at_av"),
          ("PLD − PLG segment F (val)", "PLD segment F (val)", "PLG segment F (val)"),
          ("PLG P − video label P (val)", "PLG P (val)", "video label P (val)"))


def world_config(base: dict, world: int) -> dict:
    """config.yaml as world `world`: every world seed set to it, every demo path renamed."""
    name = f"demo_world{world}"
    text = re.sub(r"resources/demo/", f"resources/{name}/", yaml.safe_dump(base))
    config = yaml.safe_load(text)
    config["dataset"]["name"] = name
    demo = config["demo"]
    demo["seed"] = world
    demo["clip_training"]["seed"] = world
    for settings in demo["backbone_training"].values():
        settings["seed"] = world
    return config


def figures(report_path: Path) -> dict[str, float]:
    report = json.loads(report_path.read_text())
    out = {f"{row} {cell}": values["segment_level"][cell]
           for row, values in report["ablation"].items() for cell in CELLS}
    # the visual labels' quality: PLG's, and PLD's with the models of row 5's stage-1 row (row 4)
    quality = report["label_quality"]["visual"][ROWS[VPLAN_ROW].visual.stage1]
    out["video label P (val)"] = quality["video_level"]["video_label"]["precision"]
    out["PLG P (val)"] = quality["video_level"]["plg"]["precision"]
    out["PLG segment F (val)"] = quality["segment_event"]["plg"]["segment_f"]
    out["PLD segment F (val)"] = quality["segment_event"]["pld"]["segment_f"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=int, nargs="+", default=[1, 2], help="world seeds besides 0")
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args()
    base = yaml.safe_load(Path("config.yaml").read_text())
    reports = {0: Path("results/demo/report/report.json")}
    for world in args.worlds:
        config = world_config(base, world)
        path = Path(f"results/{config['dataset']['name']}/config.yaml")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        # script jobs run the first python on PATH (as in the Makefile): this one
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(args.cores), "--configfile", str(path)],
                       check=True, env=env)
        reports[world] = Path(f"results/{config['dataset']['name']}/report/report.json")
    per_world = {world: figures(path) for world, path in reports.items()}
    for world in per_world.values():
        world.update({name: world[a] - world[b] for name, a, b in CLAIMS})
    keys = list(per_world[0])
    print("figure | " + " | ".join(f"world {w}" for w in per_world) + " | mean ± std over worlds")
    for key in keys:
        values = np.array([per_world[w][key] for w in per_world])
        print(f"{key} | " + " | ".join(f"{v:.1f}" for v in values)
              + f" | {values.mean():.1f} ± {values.std(ddof=1):.1f}")


if __name__ == "__main__":
    main()
