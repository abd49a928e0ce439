"""What a features-only user meets at full size: LLP's 11,849 videos, and LFAV's 3,721 of 200 rows.

LLP (`llp` step): seeded random float32 features in the official release's layout
(`dataset.official_features`: vggish/<id>.npy [10, 128], res152/<id>.npy [80, 2048],
r2plus1d_18/<id>.npy [10, 512]; vplan_core/data/official.py) for every id of the real split files
(vplan_core.data.shards.all_video_ids), written once into --scratch (outside the repository: about
8.1 GB, and as much again for the stores). The config is config/llp.yaml on these folders as the
LLP tests derive it (tests.test_llp_workflow.llp_config, videos=False: no videos, no VALOR
release), with train.device cpu and train.epochs --epochs. Measured, each in a fresh process
whose peak RSS is its descendants' (getrusage RUSAGE_CHILDREN):
  plan    `snakemake --dry-run` of the whole DAG: wall seconds (median of --plan-repeats), jobs per rule
  import  `snakemake --cores 2 --until import_official_features`: the manifest and the three stores
          of 40 shards each; wall seconds, disk of the stores. The release's files are then deleted
          (the stores hold them; the folders stay, planning checks them) to free the disk while
          training runs, unless --keep
  train   the one row-① HAN job (rule train_row, workflow_scripts/train_row.py) with config/llp.yaml's
          seeds and batch size, then with seed 0 alone: the job's wall seconds, peak RSS (the
          wrapper's and the job's benchmark file's max_rss), seconds per epoch (median over the
          epochs of its history.json, val evaluation included), one torch thread (JOB_THREADS)

LFAV (`lfav` step): 3,721 training videos of 200 rows (LFAV's training set after its
ToEqualLengthSample(200)), VGGish [200, 128], ResNet-18 [200, 512], R(2+1)D-18 [200, 512],
35 classes, and as validation 486 videos of 200 rows (a stand-in: LFAV's val videos vary in
length, median about 160 s) scored by LFAV's metric, in memory, through
vplan_core.training.trainer.train with config/lfav.yaml's row-① HAN settings
(vplan_core.plan.train_settings: batch 16, lr 1.0e-4) in a fresh interpreter (`lfav-train`, one
torch thread, peak RSS from RUSAGE_SELF); the val pass of each epoch is timed apart. With
--lfav-train-videos N < 3,721 (by default 640 for one seed, and --lfav-seeds-videos 64 for the
config's seeds) an epoch trains on the first N videos while all 3,721 are held in memory, and
its seconds per epoch are extrapolated: train pass x 3,721 / N + val pass, labelled
"extrapolated".

LFAV's release (`lfav-release` step): config/lfav.yaml, features only, over seeded random float32
features in LFAV's released layout (audio-feat-vggish-align/, visual-feat-res18-align/,
visual-feat-r2plus1d-align/, <id>.npy of --lfav-rows rows, 200 by default, for each of the 5,175
videos of LFAV's real annotation files, tests/data/lfav; tests.test_lfav_workflow.lfav_config,
train.device cpu): the dry run and the import, measured as LLP's (about 4.8 GB, and the stores).

    .venv/bin/python bench/bench_full_size.py --scratch /work/fullsize \\
        --out bench/results/full-size-2026-12-07

Writes --out/output.txt (what it prints, the command first) and --out/figures.json. Scratch data
is removed at the end unless --keep; a release left there by a --keep run is reused.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.test_llp_workflow import LAYOUT, llp_config  # noqa: E402
from tests.workflow_runs import SNAKEMAKE, planned_jobs, write_config  # noqa: E402
from vplan_core.data.shards import all_video_ids  # noqa: E402
from vplan_core.paths import RunPaths  # noqa: E402
from vplan_core.plan import group_name  # noqa: E402

LFAV_TRAIN, LFAV_VAL, LFAV_ROWS, LFAV_CLASSES = 3721, 486, 200, 35
LFAV_DIMS = {"audio": 128, "visual_2d": 512, "visual_3d": 512}  # VGGish, ResNet-18, R(2+1)D-18
ROW, FAMILY = "row1_han", "han"

# A command in a fresh interpreter: its wall seconds and the peak RSS of its descendants.
MEASURED = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
with open(sys.argv[1], "w") as log:
    code = subprocess.run(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT).returncode
print(json.dumps({"exit": code, "seconds": time.perf_counter() - started,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


class Output:
    """Prints and keeps every line for output.txt."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        with self.path.open("a") as f:
            f.write(line + "\n")


def measured(command: list[str], log: Path) -> dict:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    result = subprocess.run([sys.executable, "-c", MEASURED, str(log), *command],
                            capture_output=True, text=True, check=True, env=env)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    if figures["exit"]:
        raise RuntimeError(f"{' '.join(command)} exited {figures['exit']}; last lines of {log}:\n"
                           + "\n".join(log.read_text().splitlines()[-30:]))
    return figures


def disk_bytes(path: Path) -> int:
    """Bytes allocated on disk under path (du's measure)."""
    return sum(os.lstat(Path(folder) / name).st_blocks * 512
               for folder, _, names in os.walk(path) for name in names)


def gb(n: float) -> float:
    return round(n / 1e9, 2)


def machine_lines() -> list[str]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "?")
    mem = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return [f"machine: {os.cpu_count()} cores, {model}, {int(mem) / 2**20:.1f} GiB memory; commit {commit}"]


def uptime() -> str:
    """uptime's line (the load of the shared cores) and the memory available now."""
    available = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemAvailable"))
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return f"{load}; memory available {int(available) / 2**20:.1f} GiB"


# ---------------------------------------------------------------- LLP

def write_release(release: Path, ids: list[str], layout: dict[str, tuple[int, ...]], seed: int, say: Output) -> None:
    """<release>/<folder>/<id>.npy of `layout`'s shape for every id, seeded random float32,
    written once (a finished release is marked and reused)."""
    marker = release / "COMPLETE.json"
    stamp = {"ids": len(ids), "seed": seed, "layout": {folder: list(shape) for folder, shape in layout.items()}}
    if marker.is_file() and json.loads(marker.read_text()) == stamp:
        say(f"release: reusing {release} ({len(ids)} ids)")
        return
    shutil.rmtree(release, ignore_errors=True)
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    for folder in layout:
        (release / folder).mkdir(parents=True)
    for vid in ids:
        for folder, shape in layout.items():
            np.save(release / folder / f"{vid}.npy", rng.random(shape, dtype=np.float32))
    marker.write_text(json.dumps(stamp))
    say(f"release: {len(ids)} ids x {len(layout)} files written in {time.perf_counter() - started:.0f} s, "
        f"{gb(disk_bytes(release))} GB on disk")


def plan_figures(run: Path, configfile: Path, repeats: int) -> dict:
    """`snakemake --dry-run` of the whole DAG: wall seconds of each of `repeats`, jobs per rule."""
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        jobs = planned_jobs(run, configfile)
        seconds.append(time.perf_counter() - started)
    return {"dry_run_s": [round(s, 2) for s in seconds], "dry_run_s_median": round(statistics.median(seconds), 2),
            "jobs": sum(jobs.values()), "jobs_per_rule": jobs}


def import_figures(run: Path, configfile: Path, dataset: str) -> dict:
    """The manifest and every store imported from the release (two jobs at a time)."""
    imported = measured([SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(run), "--configfile", str(configfile),
                         "--cores", "2", "--until", "import_official_features"], run / "snakemake_import.log")
    stores = run / RunPaths(dataset).results / "features"
    return {"wall_s": round(imported["seconds"], 1), "peak_rss_mb": round(imported["peak_rss_mb"]),
            "stores_disk_gb": gb(disk_bytes(stores)),
            "per_feature_gb": {f.name: gb(disk_bytes(f)) for f in sorted(stores.iterdir())},
            "jobs": steps_done(run / "snakemake_import.log")}


def steps_done(log: Path) -> int:
    """The jobs a Snakemake run finished, from its last "N of M steps" line."""
    done = re.findall(r"^(\d+) of \d+ steps", log.read_text(), flags=re.M)
    return int(done[-1]) if done else 0


def history_epochs(job_dir: Path, seed: int) -> tuple[list[float], dict]:
    history = json.loads((job_dir / f"seed_{seed}" / "history.json").read_text())
    return [epoch["seconds"] for epoch in history["epochs"]], history["videos"]


def benchmark_rss(path: Path) -> float:
    header, values = path.read_text().splitlines()[:2]
    return float(dict(zip(header.split("\t"), values.split("\t")))["max_rss"])


def train_job(run: Path, config: dict, seeds: list[int], say: Output) -> dict:
    """The row-① HAN job for `seeds` (one seed group), run by Snakemake: its figures."""
    config = {**config, "train": {**config["train"], "seeds": seeds}}
    configfile = write_config(run, config, f"config_seeds_{group_name(seeds)}.yaml")
    paths = RunPaths(config["dataset"]["name"])
    group = group_name(seeds)
    job_dir = paths.model_dir(ROW, group, FAMILY)
    figures = measured([SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(run), "--configfile", str(configfile),
                        "--cores", "1", job_dir], run / f"snakemake_train_{group}.log")
    epochs, videos = history_epochs(run / job_dir, seeds[0])
    out = {"seeds": seeds, "job_wall_s": round(figures["seconds"], 1), "peak_rss_mb": round(figures["peak_rss_mb"]),
           "job_max_rss_mb": round(benchmark_rss(run / paths.benchmark(f"train/{FAMILY}/{ROW}/seeds_{group}"))),
           "epoch_s": [round(s, 1) for s in epochs], "epoch_s_median": round(statistics.median(epochs), 1),
           "videos": videos}
    say(f"train row 1 HAN, seeds {seeds}: {json.dumps(out)}")
    if videos["train"]["missing"] or videos["val"]["missing"] or videos["test"]["missing"]:
        raise RuntimeError(f"the job left videos out: {videos}")
    return out


def llp(args, say: Output) -> dict:
    scratch = args.scratch.resolve()
    release, run = scratch / "release", scratch / "run"
    ids = all_video_ids(args.annotations)
    say(f"LLP ids in {args.annotations}: {len(ids)}")
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    config = llp_config(run, annotations=args.annotations.resolve(), videos=False, official=True)
    config["dataset"]["official_features"] = str(release)
    config["train"].update(device="cpu", epochs=args.epochs)
    configfile = write_config(run, config)
    say(f"config: config/llp.yaml features-only (tests.test_llp_workflow.llp_config), official_features {release}, "
        f"train.device cpu, train.epochs {args.epochs}, train.seeds {config['train']['seeds']}, "
        f"batch {config['train']['batch_size']}, models {config['train']['models']}")
    write_release(release, ids, dict(LAYOUT.values()), args.seed, say)
    figures: dict = {"ids": len(ids), "release_disk_gb": gb(disk_bytes(release)),
                     "plan": plan_figures(run, configfile, args.plan_repeats)}
    say(f"plan: {json.dumps(figures['plan'])}")
    figures["import"] = import_figures(run, configfile, config["dataset"]["name"])
    say(f"import: {json.dumps(figures['import'])}")
    if not args.keep:  # the stores hold the features now; planning checks only the folders
        for folder, _ in LAYOUT.values():
            shutil.rmtree(release / folder)
            (release / folder).mkdir()
        (release / "COMPLETE.json").unlink()
        say("release files deleted (folders kept) before training, to free the disk")

    figures["train"] = [train_job(run, config, list(config["train"]["seeds"]), say)]
    if len(config["train"]["seeds"]) > 1:
        figures["train"].append(train_job(run, config, [config["train"]["seeds"][0]], say))
    if not args.keep:
        shutil.rmtree(scratch)  # before the next step writes its own
    return figures


# ---------------------------------------------------------------- LFAV

def lfav_train(args) -> None:
    """In this process: HAN row ① with config/lfav.yaml's settings on LFAV-sized random arrays,
    scored on val by LFAV's metric; prints one JSON line."""
    import resource

    import torch
    import yaml

    from vplan_core.data.dataset import Features, TrainingSet, ValidationSet
    from vplan_core.method.ablation import ROWS
    from vplan_core.plan import train_settings
    from vplan_core.training import trainer

    torch.set_num_threads(1)  # as a workflow job (JOB_THREADS)
    lfav_yaml = yaml.safe_load((REPO / "config/lfav.yaml").read_text())
    lfav_yaml["train"]["epochs"] = args.epochs
    settings = train_settings(lfav_yaml, ROWS[ROW].loss, FAMILY, ROWS[ROW].constants)
    config = trainer.TrainConfig(**settings, seeds=args.seeds or lfav_yaml["train"]["seeds"], device="cpu")
    rng = np.random.default_rng(args.seed)

    def features(n: int) -> Features:
        return Features([f"v{i:05d}" for i in range(n)],
                        **{role: rng.random((n, LFAV_ROWS, dim), dtype=np.float32) for role, dim in LFAV_DIMS.items()})

    every = features(LFAV_TRAIN)
    labels = (rng.random((LFAV_TRAIN, LFAV_CLASSES)) < 0.1).astype(np.float32)
    n = args.lfav_train_videos
    train_set = TrainingSet(Features(every.video_ids[:n], every.audio[:n], every.visual_2d[:n], every.visual_3d[:n]),
                            labels[:n])  # views: all 3,721 videos stay in memory
    gt = (rng.random((LFAV_VAL, LFAV_ROWS, LFAV_CLASSES)) < 0.05).astype(np.uint8)
    val_set = ValidationSet(features(LFAV_VAL), gt, gt, metric="lfav")
    evaluate, val_seconds = trainer.evaluate_seeds, []

    def timed(*a, **kw):  # the val pass of an epoch, timed apart
        started = time.perf_counter()
        out = evaluate(*a, **kw)
        val_seconds.append(time.perf_counter() - started)
        return out

    trainer.evaluate_seeds = timed
    results = trainer.train(config, train_set, val_set, log=lambda line: print(line, file=sys.stderr, flush=True))
    epochs = [e["seconds"] for e in results[0].history]
    train_pass = [e - v for e, v in zip(epochs, val_seconds)]
    scale = LFAV_TRAIN / n
    print(json.dumps({"seeds": list(config.seeds), "batch_size": config.batch_size, "lr": config.lr,
                      "train_videos_per_epoch": n, "epoch_s": [round(s, 1) for s in epochs],
                      "val_pass_s": [round(s, 1) for s in val_seconds],
                      "epoch_s_median": round(statistics.median(epochs), 1),
                      **({} if n == LFAV_TRAIN else {"epoch_s_extrapolated_to_3721": round(
                          statistics.median(t * scale + v for t, v in zip(train_pass, val_seconds)), 1)}),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


def lfav(args, say: Output) -> dict:
    import yaml
    seeds_config = yaml.safe_load((REPO / "config/lfav.yaml").read_text())["train"]["seeds"]
    runs = [([seeds_config[0]], args.lfav_train_videos), (seeds_config, args.lfav_seeds_videos)]
    figures = {}
    for seeds, videos in runs:
        command = [sys.executable, __file__, "lfav-train", "--epochs", str(args.epochs), "--seed", str(args.seed),
                   "--lfav-train-videos", str(videos), "--seeds", *map(str, seeds)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
        out = json.loads(result.stdout.strip().splitlines()[-1])
        for line in result.stderr.splitlines():
            if line.startswith("epoch "):
                say(f"  {line}")
        say(f"LFAV HAN, seeds {seeds}: {json.dumps(out)}")
        figures[f"seeds_{group_name(seeds)}"] = out
    return figures


def lfav_release(args, say: Output) -> dict:
    """config/lfav.yaml features-only over generated features in LFAV's released layout for every
    video of LFAV's real annotation files: the dry run and the import, as LLP's."""
    from tests.lfav_release import ANNOTATIONS, LFAV
    from tests.test_lfav_workflow import lfav_config

    ids = all_video_ids(ANNOTATIONS, LFAV)
    release, run = args.scratch.resolve() / "lfav_release", args.scratch.resolve() / "lfav_run"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    config = lfav_config(run)
    config["dataset"]["official_features"] = str(release)
    config["train"]["device"] = "cpu"
    configfile = write_config(run, config)
    layout = {spec.folder: (args.lfav_rows, spec.shape[1]) for spec in LFAV.released_features.values()}
    say(f"LFAV: {len(ids)} ids in {ANNOTATIONS}; config/lfav.yaml on a release of {args.lfav_rows} rows a video "
        f"(tests.test_lfav_workflow.lfav_config), train.device cpu")
    write_release(release, ids, layout, args.seed, say)
    figures = {"ids": len(ids), "rows": args.lfav_rows, "release_disk_gb": gb(disk_bytes(release)),
               "plan": plan_figures(run, configfile, args.plan_repeats),
               "import": import_figures(run, configfile, config["dataset"]["name"])}
    say(f"LFAV plan: {json.dumps(figures['plan'])}")
    say(f"LFAV import: {json.dumps(figures['import'])}")
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", nargs="*", help="llp, lfav, lfav-release (default: all three); lfav-train: lfav's child process")
    ap.add_argument("--scratch", type=Path, default=Path("/work/fullsize"), help="generated data, outside the repository")
    ap.add_argument("--out", type=Path, default=REPO / "bench/results/full-size")
    ap.add_argument("--annotations", type=Path, default=REPO.parent / "shared/llp", help="the real LLP csv files")
    ap.add_argument("--epochs", type=int, default=2, help="epochs of each training (the median is reported)")
    ap.add_argument("--plan-repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0, help="of the generated features")
    ap.add_argument("--lfav-train-videos", type=int, default=640,
                    help=f"LFAV videos an epoch trains on, one seed ({LFAV_TRAIN}: all, not extrapolated)")
    ap.add_argument("--lfav-seeds-videos", type=int, default=64,
                    help="the same with config/lfav.yaml's seeds (fewer: extrapolated)")
    ap.add_argument("--seeds", type=int, nargs="*", help="lfav-train only")
    ap.add_argument("--lfav-rows", type=int, default=LFAV_ROWS, help="rows of every generated LFAV feature file (lfav-release)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch data (a later run reuses the release)")
    args = ap.parse_args()
    args.step = args.step or ["llp", "lfav", "lfav-release"]
    if not set(args.step) <= {"llp", "lfav", "lfav-release", "lfav-train"}:
        ap.error(f"unknown step in {args.step}")
    if args.step == ["lfav-train"]:
        lfav_train(args)
        return
    say = Output(args.out / "output.txt")
    say("$ " + " ".join([".venv/bin/python", str(Path(__file__).relative_to(REPO)), *sys.argv[1:]]))
    say(f"started {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; uptime: {uptime()}")
    for line in machine_lines():
        say(line)
    say(f"scratch {args.scratch}: {gb(shutil.disk_usage(args.scratch.parent).free)} GB free on its disk")
    figures: dict = {"command": " ".join(sys.argv), "uptime_start": uptime(), "machine": machine_lines()}
    started = time.perf_counter()
    try:
        if "llp" in args.step:
            figures["llp"] = llp(args, say)
        if "lfav" in args.step:
            figures["lfav"] = lfav(args, say)
        if "lfav-release" in args.step:
            figures["lfav_release"] = lfav_release(args, say)
    finally:
        if not args.keep:
            shutil.rmtree(args.scratch, ignore_errors=True)
    figures.update(uptime_end=uptime(), total_s=round(time.perf_counter() - started))
    say(f"ended {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC after {figures['total_s']} s; uptime: {figures['uptime_end']}")
    (args.out / "figures.json").write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
