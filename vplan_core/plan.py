"""From a configuration to jobs: pure functions the workflow (rules/common.smk) plans with.

Feature sources: each feature store is extracted from videos or imported from released
pre-extracted features (feature_sources), and that decides which ablation rows can run; so do
VALOR's released segment labels (dataset.released_labels), for the rows that train on them.
The stores made are those the trained parsers read (each its models.<name>.inputs, by default
the HAN features) and those PLG labels from.

Parsers: train.models names what is trained, each name a folder of results and a label in the
report: a family (han, mgn, mm_pyramid, valor) or a recipe of one (models.<name>.family: VALOR+
is a recipe of valor), with its training settings, constructor arguments and inputs in
models.<name>.

Seeds: every row is trained for every seed of `train.seeds`; the seeds of one job train as one
batched model (vplan_core.models.seed_batch). Jobs take the seeds in list order,
`train.seeds_per_job` at a time (default: all), so appending a whole group of seeds adds jobs
and leaves the existing ones as they are. A job's seeds name its folder: seeds_0-1-2 (the group's name).

Producers: which rule makes each feature store and the manifest is decided here, by
feature_sources, and the rules read its answer (rules/features.smk defines a producer's rule
only when the run uses it).
"""
from __future__ import annotations

from dataclasses import dataclass

from vplan_core.data.description import DatasetDescription, describe
from vplan_core.feature_registry import DEFAULT_INPUTS, FEATURES, MAPS, PSEUDO_LABEL_FEATURES, RANDOM_PREFIX, SEGMENTS
from vplan_core.method.ablation import (CONSTANT_DEFAULTS, CONSTANT_KEYS, LABEL_KINDS, LOSS_KINDS, MODALITIES, PLD,
                                        ROWS, Labels, Row, check_rows)
from vplan_core.models import DEFAULT_FAMILY, FAMILIES
from vplan_core.paths import RunPaths

SEED_SEPARATOR = "-"
LABELLED_MODALITIES = {name: FEATURES[name].labels.modality for name in PSEUDO_LABEL_FEATURES}
check_rows(ROWS, LABELLED_MODALITIES)  # the rows against the pseudo-label features, once both tables are loaded


def seed_groups(seeds: list[int], per_job: int | None = None) -> list[list[int]]:
    """The seeds of each training job, in list order."""
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"config key 'train.seeds': need distinct seeds, one at least; got {seeds}")
    per_job = per_job or len(seeds)
    return [list(seeds[i:i + per_job]) for i in range(0, len(seeds), per_job)]


def group_name(seeds: list[int]) -> str:
    """The name of a group of seeds in paths: [0, 1, 2] -> "0-1-2"."""
    return SEED_SEPARATOR.join(str(s) for s in seeds)


def group_seeds(name: str) -> list[int]:
    """The inverse of group_name."""
    return [int(s) for s in name.split(SEED_SEPARATOR)]


OFFICIAL_KEY = "dataset.official_features"
RELEASED_LABELS_KEY = "dataset.released_labels"


def dataset_description(config: dict) -> DatasetDescription:
    """The description of the config's data set (dataset.description: a built-in name or a file)."""
    return describe(config["dataset"].get("description", "llp"))


def released_key(feature: str) -> str:
    """The config key of a feature's released files (segment embeddings, feature maps)."""
    return f"dataset.{FEATURES[feature].released}"


def released_label_modalities(config: dict) -> tuple[str, ...]:
    """The modalities whose VALOR-released segment labels the config names."""
    release = config["dataset"].get("released_labels", {})
    return tuple(m for m in MODALITIES if release.get(m))


def plg_enabled(config: dict, feature: str) -> bool:
    """A pseudo-label feature takes part in a run when plg.<feature> is set and not disabled."""
    section = config["plg"].get(feature)
    return section is not None and section.get("enabled", True)


@dataclass(frozen=True)
class Sources:
    """Where each feature store of a run comes from, and which rows that allows.

    extracted: features extracted from the videos; imported: feature -> the config key of the
    released features it is imported from; rows: the rows the run trains; skipped_rows: row ->
    why it cannot run (a row whose pseudo-label feature is disabled, or that trains on released
    labels when the config names none, is not planned at all); released_labels: the modalities
    whose VALOR-released segment labels are imported; labelled: the pseudo-label features whose
    PLG is enabled.
    """

    extracted: tuple[str, ...]
    imported: dict[str, str]
    rows: tuple[str, ...]
    skipped_rows: dict[str, str]
    released_labels: tuple[str, ...] = ()
    labelled: tuple[str, ...] = ()

    probes_videos: bool = True  # a folder of videos is probed (else: no video is decoded)

    @property
    def features(self) -> tuple[str, ...]:
        """Every store the run makes (the manifest accounts for each)."""
        return (*self.imported, *self.extracted)

    @property
    def official(self) -> tuple[str, ...]:
        """The stores imported from the official features (then the manifest comes from them)."""
        return tuple(f for f, key in self.imported.items() if key == OFFICIAL_KEY)

    @property
    def released(self) -> tuple[str, ...]:
        """The stores imported from released segment embeddings (CLIP's, CLAP's)."""
        return tuple(f for f, key in self.imported.items() if key != OFFICIAL_KEY and not FEATURES[f].maps)

    @property
    def maps(self) -> tuple[str, ...]:
        """The stores imported from released feature maps (VALOR's CLAP maps)."""
        return tuple(f for f in self.imported if FEATURES[f].maps)

    @property
    def pseudo_label_features(self) -> tuple[str, ...]:
        """The pseudo-label features whose labels the run makes."""
        return tuple(f for f in self.features if f in self.labelled)

    def producer(self, feature: str) -> str:
        """The rule that makes `feature`'s stores: extract_features, import_official_features,
        import_segment_features (released segment embeddings) or import_feature_maps."""
        if feature in self.extracted:
            return "extract_features"
        if self.imported[feature] == OFFICIAL_KEY:
            return "import_official_features"
        return "import_feature_maps" if feature in self.maps else "import_segment_features"

    @property
    def manifest_producer(self) -> str:
        """probe_official_shard (status from the official feature files) or probe_shard."""
        return "probe_official_shard" if self.official else "probe_shard"


SEGMENT_LABELS_OF_ANY_LENGTH = ("trains on segment labels, which are not made for videos of any length yet (PLG and PLD "
                                "read fixed windows; its equal-length training samples have no rule for labels)")


def feature_sources(config: dict, rows: dict[str, Row] = ROWS) -> Sources:
    """The sources of a (validated) config.

    The features made: every parser input of a trained parser (input_features) and every
    enabled pseudo-label feature (plg.<feature>). Each is imported from the official features
    when the data set's description releases it and dataset.official_features is given; else
    from its released files (dataset.<released>: segment embeddings, feature maps) when given, unless
    features.<feature>.source is "videos"; else extracted from the videos (the demo renders its
    own). A parser input that none of these makes is a config error, naming the parser and the
    key to set. A row runs when every pseudo-label feature behind its labels has a source;
    without one it is skipped, with the reason; with one disabled it is not planned. Rows on
    VALOR's released labels run when dataset.released_labels names each modality they train on,
    are skipped with the reason when it names others only, and are not planned without it; a
    trained parser whose models.<name>.rows names one that cannot run is a config error.
    A data set of videos of any length (dataset.description) runs from its released features
    only, and its rows on segment labels are skipped (SEGMENT_LABELS_OF_ANY_LENGTH). Rows on
    each modality's video-level labels (Row.modality_labels) run where the data set has them
    (DatasetDescription.modality_labels: LFAV) and are not planned where it has none (LLP: no
    setting gives them, so there is nothing a skip could tell the user to set).
    """
    dataset, data = config["dataset"], dataset_description(config)
    videos = "demo" in config or bool(dataset.get("videos"))
    if "demo" in config and data.name != "llp":
        raise ValueError(f"config key 'dataset.description': the demo is a miniature LLP, not {data.name}")
    if videos and not data.fixed_length:
        raise ValueError(f"config key 'dataset.videos': extraction reads a window of sampling.seconds from each "
                         f"video, and {data.name}'s videos vary in length: use its released features "
                         "(dataset.official_features) and delete dataset.videos")
    if not videos and not dataset.get("official_features"):
        folders = " ".join(f"{released.folder}/" for released in data.released_features.values())
        raise ValueError("config key 'dataset': set dataset.videos (a folder of <id>.mp4) and/or "
                         f"dataset.official_features (a folder with {folders})")
    problems = model_problems(config)
    if problems:
        raise ValueError("\n  ".join(problems))
    inputs = input_features(config)
    released = data.released_features if dataset.get("official_features") else {}
    unknown = sorted(set(released) - set(FEATURES))
    if unknown:
        raise ValueError(f"data set description {data.source}: released_features names {unknown}, which are "
                         f"not features of vplan_core/feature_registry.py ({', '.join(FEATURES)})")
    imported = {f: OFFICIAL_KEY for f in inputs if f in released}
    enabled = [f for f in PSEUDO_LABEL_FEATURES if plg_enabled(config, f)]
    for feature in enabled:
        if config["features"].get(feature) is None:
            raise ValueError(f"config key 'plg.{feature}' is set but features.{feature} (its checkpoint) is not")
    needed = tuple(dict.fromkeys((*inputs, *enabled)))
    for feature in (f for f in needed if f not in imported and FEATURES[f].released):
        key, settings = released_key(feature), config["features"].get(feature, {})
        source, released = settings.get("source", "auto"), bool(dataset.get(FEATURES[feature].released))
        if source == "videos" and not videos:
            raise ValueError(f"config key 'features.{feature}.source' is 'videos' but dataset.videos is not set")
        if source == "features" and not released:
            raise ValueError(f"config key 'features.{feature}.source' is 'features' but {key} is not set")
        if released and source != "videos":
            imported[feature] = key
    extracted = tuple(f for f in needed if f not in imported and videos and FEATURES[f].extractor)
    made, releases = set(imported) | set(extracted), released_label_modalities(config)
    for model in trained_models(config):
        for role, feature in model_inputs(config, model).items():
            if feature not in made:
                spec = FEATURES[feature]
                ways = ([released_key(feature)] if spec.released else []) + (["dataset.videos"] if spec.extractor else [])
                raise ValueError(f"config key 'models.{model}.inputs.{role}' is {feature!r}, which this run cannot "
                                 f"make: set {' or '.join(ways)}")
            if feature in extracted and feature not in config["features"]:
                raise ValueError(f"config key 'models.{model}.inputs.{role}' is {feature!r}, extracted from the "
                                 f"videos with features.{feature}, which is not set")
    skipped = {}
    for name, row in rows.items():
        reasons = [f"needs {f.upper()} pseudo labels (PLG): set dataset.videos or {released_key(f)}"
                   for f in sorted(row.features - (made & set(enabled)))]  # made for a parser alone: no PLG
        reasons += [f"needs VALOR's released {m} labels: set {RELEASED_LABELS_KEY}.{m}"
                    for m in sorted(row.released_modalities - set(releases))]
        if not data.fixed_length and LOSS_KINDS[row.loss].labels:
            reasons = [SEGMENT_LABELS_OF_ANY_LENGTH]
        if reasons:
            skipped[name] = "; ".join(reasons)
    unlabelled = {name for name, row in rows.items() if row.modality_labels and not data.modality_labels}
    for model in trained_models(config):
        for name in model_settings(config, model).get("rows", []):
            if name in skipped and rows[name].released_modalities:
                raise ValueError(f"config key 'models.{model}.rows' names {name}, which cannot run: {skipped[name]}")
            if name in unlabelled:
                raise ValueError(f"config key 'models.{model}.rows' names {name}, which trains on each modality's "
                                 f"video-level labels; data set {data.name!r} ({data.source}) has none")
    planned = {name: why for name, why in skipped.items() if name not in unlabelled
               and rows[name].features <= set(enabled) and (releases or not rows[name].released_modalities)}
    run = tuple(name for name in rows if name not in skipped and name not in unlabelled)
    return Sources(extracted=extracted, imported=imported, rows=run, skipped_rows=planned, probes_videos=videos,
                   released_labels=releases, labelled=tuple(enabled))


# features.<feature> keys that change how fast an extraction runs, never a value it writes: rule
# extract_features passes each as a resource of the same name, so changing one reruns nothing
EXTRACTION_MACHINE_KEYS = ("batch_size",)


def extraction_settings(config: dict, feature: str, machine: bool = True) -> dict:
    """What the extraction of `feature` gets: its features.<feature> section and the sampling
    keys it uses (so a change of another feature's settings reruns nothing of this one). All of
    it for an extractor (`vplan parse`); without the EXTRACTION_MACHINE_KEYS when not `machine`:
    the rule's params, what a store's values depend on."""
    section = {key: value for key, value in config["features"][feature].items()
               if machine or key not in EXTRACTION_MACHINE_KEYS}
    sampling = config["sampling"]
    return {**section, **{key: sampling[key] for key in FEATURES[feature].sampling}}


def released_settings(config: dict, feature: str) -> dict:
    """The import of a pseudo-label feature's released segment embeddings: their folder, the
    configured model they come from, and how the release sampled its segments."""
    labels, dataset = FEATURES[feature].labels, config["dataset"]
    return {"folder": dataset[labels.released],
            "model": str(config["features"].get(feature, {}).get(labels.released_model_key)),
            "sampling": {labels.released_rule: dataset.get(f"{feature}_{labels.released_rule}", "unknown")}}


def released_label_settings(config: dict, modality: str) -> dict:
    """The import of a modality's released labels: where they are and a fingerprint of their
    files (vplan_core.data.released_labels), so that changed files rerun it."""
    from vplan_core.data.released_labels import fingerprint

    source = config["dataset"]["released_labels"][modality]
    return {"source": source, "files": fingerprint(source)}


def text_settings(config: dict, feature: str) -> dict:
    """What a pseudo-label feature's text side reads: the features.<feature> keys that choose
    its text tower."""
    return {key: config["features"][feature].get(key) for key in FEATURES[feature].labels.text_keys}


def plg_settings(config: dict, feature: str) -> dict:
    """PLG's settings of a pseudo-label feature: plg.<feature> over its spec's defaults, and
    for the rule "thresholds" the spec's per-class thresholds."""
    section = {k: v for k, v in config["plg"][feature].items() if k != "enabled"}
    settings = {**FEATURES[feature].labels.plg, **section}
    if settings.get("rule") == "thresholds":
        settings["thresholds"] = list(FEATURES[feature].labels.thresholds)
    return settings


def extraction_inputs(config: dict, feature: str) -> list[str]:
    """The local files the extraction of `feature` reads (weight files that are files, config
    files), so that a changed file reruns it."""
    return FEATURES[feature].input_files(config["features"][feature])


TRAINER_ONLY = ("device", "seeds", "seeds_per_job", "smoothing_audio", "smoothing_visual", "models")
# models.<name> keys that are no training setting as they stand (inputs reaches the settings resolved)
FAMILY_KEYS = ("kwargs", "rows", "pld_source", "family", "inputs")
OWN = "own"  # models.<name>.pld_source: the parser's own stage-1 models refine its labels
MAPS_KWARG = "audio_maps"  # the constructor argument of a parser that reads audio feature maps (VALOR's)


def trained_models(config: dict) -> list[str]:
    """The parsers trained on the rows (train.models): the first trains every row (the
    ablation table), the others their Table V rows (or models.<name>.rows)."""
    return list(config["train"].get("models", [DEFAULT_FAMILY]))


def model_settings(config: dict, model: str) -> dict:
    """models.<model> of the config: a parser's training defaults, constructor arguments,
    family and inputs."""
    return dict(config.get("models", {}).get(model, {}))


def model_family(config: dict, model: str) -> str:
    """The family of a trained parser: models.<name>.family, by default the name itself (a
    recipe of a family is a name of its own: valor_plus, family valor)."""
    return model_settings(config, model).get("family", model)


def model_inputs(config: dict, model: str) -> dict[str, str]:
    """Which feature each input of `model` is (audio, visual_2d, visual_3d -> a registry feature):
    models.<name>.inputs over the HAN features."""
    return {**DEFAULT_INPUTS, **model_settings(config, model).get("inputs", {})}


def input_features(config: dict) -> tuple[str, ...]:
    """Every feature a trained parser reads, in the registry's order."""
    read = {feature for model in trained_models(config) for feature in model_inputs(config, model).values()}
    return tuple(feature for feature in FEATURES if feature in read)


def model_problems(config: dict) -> list[str]:
    """What is wrong with the trained parsers, each naming its key: a name that is no family and
    names none, a family's own name given another family, a PLD source that is not trained, an
    input fed by a feature of another role, and feature maps where the parser reads one
    embedding a segment or the other way round (only VALOR with audio_maps reads audio maps)."""
    models, problems = trained_models(config), []
    data = dataset_description(config)
    for model in models:
        key, settings, family = f"models.{model}", model_settings(config, model), model_family(config, model)
        if family not in FAMILIES:
            problems.append(f"config key 'train.models' names {model!r}, which is no parser family "
                            f"{tuple(FAMILIES)}: set {key}.family to the family it is a recipe of")
            continue
        needs = FAMILIES[family].segments
        if needs is not None and data.segments != needs:
            has = f"have {data.segments}" if data.fixed_length else "vary in length"
            problems.append(f"config key 'train.models' names {model!r}: {family} is built for videos of exactly "
                            f"{needs} segments (its official code), and {data.name}'s videos {has}: remove it")
        if model in FAMILIES and family != model:
            problems.append(f"config key '{key}.family': {family!r}, but {model!r} is a family's own name; "
                            "give the recipe a name of its own")
        source = settings.get("pld_source")
        if source is not None and source not in (OWN, *models):
            problems.append(f"config key '{key}.pld_source': {source!r} is neither {OWN!r} nor trained "
                            f"(train.models: {models})")
        reads_maps = bool(settings.get("kwargs", {}).get(MAPS_KWARG))
        for role, feature in model_inputs(config, model).items():
            spec = FEATURES.get(feature)
            if spec is None or spec.role != role:
                problems.append(f"config key '{key}.inputs.{role}': {feature!r} is no {role} feature; choose one of "
                                f"{[f for f, s in FEATURES.items() if s.role == role]}")
                continue
            expected = MAPS if role == "audio" and reads_maps else SEGMENTS
            if spec.form == MAPS and expected == SEGMENTS:
                problems.append(f"config key '{key}.inputs.{role}': {feature!r} are feature maps of the whole clip "
                                f"{list(spec.maps.shape)}, but {family} reads its {role} as one embedding a segment; "
                                f"only a parser that reads maps takes them (valor with {key}.kwargs.{MAPS_KWARG}: true)")
            elif spec.form == SEGMENTS and expected == MAPS:
                problems.append(f"config key '{key}.kwargs.{MAPS_KWARG}' is true (the {role} is feature maps of the "
                                f"whole clip), but {key}.inputs.{role} is {feature!r}, one embedding a segment; "
                                f"set {key}.inputs.{role} to a map feature "
                                f"({[f for f, s in FEATURES.items() if s.role == role and s.form == MAPS]})")
    return problems


def pld_source_model(config: dict, model: str) -> str:
    """Whose stage-1 models refine the labels `model` retrains on: the first family's by
    default, as the paper's Table V did (the labels are a product of the label pipeline),
    another named family's, or the family's own ("own")."""
    source = model_settings(config, model).get("pld_source", trained_models(config)[0])
    return model if source == OWN else source


def model_rows(config: dict, model: str, rows: tuple[str, ...]) -> list[str]:
    """The rows `model` trains, of those the run can train: the first family every row; another
    family models.<model>.rows (default: Table V's), with the stage-1 rows whose models refine
    its labels when they are its own."""
    if model == trained_models(config)[0]:
        return list(rows)
    wanted = set(model_settings(config, model).get("rows", [r for r in ROWS if ROWS[r].table_v]))
    if pld_source_model(config, model) == model:
        wanted |= {source.stage1 for r in wanted for source in ROWS[r].labels.values() if source.kind == PLD}
    return [row for row in rows if row in wanted]


def loss_settings(config: dict, kind: str, constants: dict | None = None) -> dict:
    """A row's loss as its job's settings: the kind and only the constants it reads (so that
    changing rl.distance reruns the rows whose loss reads it, and no other), each the row's own
    value where it sets one (`constants`: Row.constants), else the config's."""
    own = constants or {}
    return {"kind": kind, **{name: own[name] if name in own else
                             config[CONSTANT_KEYS[name][0]].get(CONSTANT_KEYS[name][1], CONSTANT_DEFAULTS.get(name))
                             for name in LOSS_KINDS[kind].constants}}


def train_settings(config: dict, loss_kind: str, model: str, constants: dict | None = None) -> dict:
    """The training settings of a row with loss `loss_kind` (and its own `constants` of it) for
    parser `model`: train.* without
    the trainer-only keys and the keys only other families' builders read, overridden by
    models.<model>, its family and constructor arguments, its inputs (only when the config
    chooses them: a config that does not keeps its settings, so nothing reruns) and the loss.
    The device is not a setting: moving to a GPU must not invalidate results."""
    family = model_family(config, model)
    others = {key for name, registered in FAMILIES.items() if name != family for key in registered.train_keys}
    settings = {key: value for key, value in config["train"].items()
                if key not in TRAINER_ONLY and (key in FAMILIES[family].train_keys or key not in others)}
    section = model_settings(config, model)
    settings.update({key: value for key, value in section.items() if key not in FAMILY_KEYS})
    settings.update(model=family, model_kwargs=dict(section.get("kwargs", {})))
    if "inputs" in section:
        settings["inputs"] = model_inputs(config, model)
    return {**settings, "loss": loss_settings(config, loss_kind, constants)}


@dataclass(frozen=True)
class Job:
    """One job's inputs (name -> path) and params, as its rule passes them."""

    inputs: dict[str, str]
    params: dict


def stage1_labels(paths: RunPaths, source: Labels, split: str) -> str:
    """The labels file of a stage-1 label source that has one (PLG's of its feature, the
    released labels of its modality: ablation.LABEL_KINDS)."""
    return LABEL_KINDS[source.kind].path(paths, source, split, None, None)


def label_input(paths: RunPaths, config: dict, source: Labels, model: str, seeds: str, split: str) -> str | None:
    """Where one modality's labels of a row trained by `model` are (ablation.LABEL_KINDS): a
    stage-1 source's file, or the PLD job of its stage-1 row made with the models
    pld_source_model names; None where the training job builds them."""
    path = LABEL_KINDS[source.kind].path
    return None if path is None else path(paths, source, split, pld_source_model(config, model), seeds)


def row_job(paths: RunPaths, config: dict, row: str, seeds: str, model: str) -> Job:
    """A training job of (row, seed group, family): each modality's labels as inputs
    (labels_<modality>, where they have a file) and their kinds as params (the script is told,
    it does not infer), the training settings and the resume file."""
    spec = ROWS[row]
    inputs = {f"labels_{m}": label_input(paths, config, source, model, seeds, "train") for m, source in spec.labels.items()}
    return Job({name: path for name, path in inputs.items() if path},
               {"labels": {m: source.kind for m, source in spec.labels.items()},
                "settings": train_settings(config, spec.loss, model, spec.constants),
                        "resume": paths.resume_file(row, seeds, model)})


def pld_job(paths: RunPaths, config: dict, model: str, stage1: str, seeds: str) -> Job:
    """A PLD job: the stage-1 row's models of `model` refine each modality's labels that row
    trained on, PLG's or released (train and val splits: <split>_<modality>)."""
    labels = ROWS[stage1].labels
    inputs = {"model": paths.model_dir(stage1, seeds, model),
              **{f"{split}_{m}": stage1_labels(paths, source, split) for m, source in labels.items()
                 for split in ("train", "val")}}
    return Job(inputs, {"modalities": list(labels), "k": config["pld"]["k"], "alpha": config["pld"]["alpha"]})


def quality_jobs(config: dict, rows_by_model: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    """(family, stage-1 row, modality) of every label-quality job: a stage-1 row's labels (PLG's
    or released) against the PLD labels the first family's rows train on, per modality."""
    first = trained_models(config)[0]
    jobs = {}
    for row in rows_by_model.get(first, []):
        for modality, source in ROWS[row].labels.items():
            if source.kind == PLD:
                jobs[(pld_source_model(config, first), source.stage1, modality)] = None
    return list(jobs)


def quality_job(paths: RunPaths, config: dict, model: str, stage1: str, modality: str, seeds: str) -> Job:
    """A label-quality job: the val labels of one modality that a stage-1 row trained on (its
    source: PLG's or released, the kind named in params) and PLD's refinement of them."""
    source = ROWS[stage1].labels[modality]
    return Job({"source": stage1_labels(paths, source, "val"), "pld": paths.pld_dir(model, stage1, seeds)},
               {"modality": modality, "source": source.kind, "study": config["pld"].get("study")})


def weight_paths(config: dict, sources: Sources) -> dict[str, tuple[str, str]]:
    """config key -> (local weight file, where it is published) of every file this run loads:
    the extracted features' backbones, and each pseudo-label feature's model whenever its PLG
    runs: imported segment embeddings still need its text tower (not when a parser reads them
    alone). The demo makes its own files by rules."""
    if "demo" in config:
        return {}
    features = [*sources.extracted, *(f for f in sources.released if f in sources.labelled)]
    return {key: (str(path), url) for feature in features
            for key, path, url in FEATURES[feature].weight_files(config["features"][feature])
            if not str(path).startswith(RANDOM_PREFIX)}


def input_problems(config: dict, sources: Sources) -> list[str]:
    """Every problem with the input paths and files of a real run, found before any job starts,
    each naming its config key: missing folders and weight files, the official features'
    layout, released segment embeddings against the configured model (when PLG labels them),
    released feature maps' shape, and each weight file's own checks (a checkpoint's form and
    architecture; its feature spec names them), and each release of segment labels
    (dataset.released_labels) holding labels."""
    from pathlib import Path

    from vplan_core.data.official import check_layout, map_problems
    from vplan_core.data.released_labels import check_release

    dataset = config["dataset"]
    keys = ("annotations", "videos", "official_features", *(f.released for f in FEATURES.values() if f.released))
    problems = [f"config key 'dataset.{key}': path does not exist: {dataset[key]}"
                for key in keys if dataset.get(key) and not Path(dataset[key]).exists()]
    official = dataset.get("official_features")
    if official and Path(official).is_dir():
        problems += check_layout(official, dataset_description(config))
    for feature in sources.released:
        folder = dataset[FEATURES[feature].released]
        if Path(folder).is_dir() and feature in sources.labelled:
            problems += FEATURES[feature].labels.check_folder(feature, folder, config["features"][feature])
    for feature in sources.maps:
        folder = dataset[FEATURES[feature].released]
        if Path(folder).is_dir():
            problems += map_problems(released_key(feature), folder, FEATURES[feature].maps.shape)
    for modality in sources.released_labels:
        key, release = f"{RELEASED_LABELS_KEY}.{modality}", dataset["released_labels"][modality]
        problems += check_release(key, release) if Path(release).exists() else \
            [f"config key '{key}': path does not exist: {release}"]
    weights = weight_paths(config, sources)
    found = {key: FEATURES[key.split(".")[1]].weight_exists(key, path) for key, (path, _) in weights.items()}
    problems += [f"config key '{key}': weights file not found: {path!r} (published at {url}; download it "
                 f"where there is network and set the key to the local file)"
                 for key, (path, url) in weights.items() if not found[key]]
    for feature in dict.fromkeys(key.split(".")[1] for key in weights):
        if all(found[key] for key in weights if key.split(".")[1] == feature):
            problems += FEATURES[feature].check_weights(config["features"][feature])
    return problems


def summary_line(summary: dict, path: str) -> str:
    """The line a run ends with: how many videos were used, skipped (by reason) and missing,
    which features skipped which videos, and the files no split names (manifest_summary.json)."""
    counts = ", ".join(f"{n} {status}" for status, n in summary["by_status"].items())
    reasons = "; ".join(f"{reason}: {n}" for reason, n in summary["by_reason"].items()) or "none"
    line = f"vplan: {summary['total']} videos: {counts} (skip reasons: {reasons})"
    skips = "; ".join(f"{feature}: {entry['total']} ({', '.join(f'{r}: {n}' for r, n in entry['by_reason'].items())})"
                      for feature, entry in summary.get("feature_skips", {}).items() if entry["total"])
    if skips:
        line += f"; feature skips: {skips}"
    extra = summary.get("extra", {}).get("total", 0)
    if extra:
        line += f"; {extra} file(s) in dataset.videos named by no split (listed in {path})"
    return line


def job_device(gpus: int) -> str:
    """A job that the scheduler gave a GPU (its `gpu` resource) uses it: the device is a
    resource, never a parameter, so moving to a GPU reruns nothing."""
    return "cuda" if gpus else "cpu"


def demo_backbone_settings(config: dict, backbone: str) -> dict:
    """The pretraining settings of one demo backbone: its demo.backbone_training section plus
    what its extractor states, the input size (and, for the 2D CNN, the architecture). Stated
    once, in `features`, the backbone cannot be trained at one size and read at another; a
    change there reruns the pretraining. An inflated backbone also gets its teacher's weight
    file and size as the teacher's extractor reads them."""
    settings = dict(config["demo"]["backbone_training"][backbone])
    extractor = config["features"][backbone]
    if "size" in extractor:
        settings["size"] = extractor["size"]
    if "backbone" in extractor:
        settings["arch"] = extractor["backbone"]
    if "inflate_from" in settings:
        teacher = config["features"][settings["inflate_from"]]
        settings.update(inflate_from=teacher["weights"], teacher_size=teacher["size"])
    return settings


def demo_backbone_teacher(config: dict, backbone: str) -> list[str]:
    """The pretrained file an inflated demo backbone starts from (none for the others)."""
    settings = demo_backbone_settings(config, backbone)
    return [settings["inflate_from"]] if "inflate_from" in settings else []
