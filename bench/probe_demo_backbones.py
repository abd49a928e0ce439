"""Linear probes on the demo's features: pretrained (demo_backbones) vs random backbones.

For each HAN feature (cnn2d, r2plus1d: what is on screen; vggish: what is heard) a 26-way
softmax probe is fitted on the train split's segments and scored on the test split's
(vplan_core.demo.probe), once on the workflow's stores (the weights config.yaml names) and
once on stores extracted here from the same clips with "random:<seed>" weights, the same
networks with the initialisation the pretraining starts from. Run after `make demo`:

    .venv/bin/python bench/probe_demo_backbones.py --config config.yaml --threads 2

About 3-4 minutes on 2 CPU threads (the random extraction dominates); prints JSON
(accuracy % on segments that show / sound something, on those that show / sound nothing).
"""
from __future__ import annotations

import argparse
import copy
import json
import tempfile
from glob import glob
from pathlib import Path

import torch
import yaml

from vplan_core.demo.probe import probe_features
from vplan_core.demo.scenarios import load_scenarios
from vplan_core.features.extract import extract_shard
from vplan_core.feature_store import read_store
from vplan_core.data.manifest import read_manifest
from vplan_core.paths import RunPaths, demo_resources

MODALITY = {"cnn2d": "visual", "r2plus1d": "visual", "vggish": "audio"}


def read_features(paths: list[Path]) -> tuple[dict, dict]:
    features, attrs = {}, {}
    for path in paths:
        array, ids, attrs = read_store(path)
        features.update(zip(ids, array))
    return features, attrs


def settings_of(config: dict, feature: str) -> dict:
    """What the workflow passes to extract_shard (rules/common.smk extraction_settings)."""
    sampling = config["sampling"]
    settings = dict(config["features"][feature])
    if feature == "vggish":
        settings.update(audio_rate=sampling["audio_rate"], seconds=sampling["seconds"])
    else:
        settings.update(fps=sampling["fps"], seconds=sampling["seconds"])
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--random-seed", type=int, default=0)
    parser.add_argument("--features", nargs="+", default=list(MODALITY))
    parser.add_argument("--split", default="test", help="split the probes are scored on")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load(Path(args.config).read_text())
    name = config["dataset"]["name"]
    paths = RunPaths(name)
    scenarios = load_scenarios(Path(demo_resources(name)) / "scenarios.json")
    manifests = sorted(glob(paths.manifest_shard("*")))
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        for feature in args.features:
            stores = paths.existing_stores(feature)
            trained, attrs = read_features(stores)
            random_config = copy.deepcopy(config)
            random_config["features"][feature]["weights"] = f"random:{args.random_seed}"
            random_stores = []
            for manifest in manifests:
                out = Path(tmp) / feature / f"{Path(manifest).stem}.zarr"
                extract_shard(feature, read_manifest(manifest), out, settings_of(random_config, feature))
                random_stores.append(out)
            random, random_attrs = read_features(random_stores)
            report[feature] = {
                "modality": MODALITY[feature],
                "weights": attrs["weights"], "random_weights": random_attrs["weights"],
                "pretrained": probe_features(scenarios, trained, MODALITY[feature], args.split),
                "random": probe_features(scenarios, random, MODALITY[feature], args.split),
            }
            print(json.dumps({feature: report[feature]}), flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
