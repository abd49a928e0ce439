"""The rows of the paper's ablation (Table III), rows ⑥-⑦ (audio pseudo labels from CLAP, as
VALOR and the paper's journal version) and rows ④-⑦ again on VALOR's released segment labels,
each described once as data: its loss, where each modality's segment labels come from, its
titles and the tables it belongs to.

The plan (vplan_core.plan.row_job) turns a row into a training job's inputs and settings; the
rules and scripts only read that. A new row on existing labels is a line in ROWS; a new loss is
a line in LOSS_KINDS and its function in vplan_core.method.losses; a new kind of labels a line in
LABEL_KINDS and its reader in vplan_core.training.outputs. Every row trains on video-level
labels besides: the video's (the union of its modalities'), or where its loss reads them
(LossKind.modality_labels) each modality's, read from the split of a data set that has them
(LFAV; not LLP). The tables check each other when this
module is imported (the rows against the pseudo-label features when the plan is: check_rows).
Torch-free: the workflow plans with it, so a function that a table names is looked up in its
module's source, not imported.
"""
from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MODALITIES = ("visual", "audio")
NONE, PLG, RELEASED, PLD = "none", "plg", "released", "pld"
LOSSES_MODULE, READERS_MODULE = "vplan_core.method.losses", "vplan_core.training.outputs"


@dataclass(frozen=True)
class LossKind:
    """One loss: its function (a name in vplan_core.method.losses, or for a study's own loss
    the function itself), called (outputs, video labels, each modality's video labels where it
    reads them, the segment labels of `labels` in that order, LossConfig); the LossConfig
    constants it reads (only those reach a row's settings, so changing rl.distance reruns only
    the rows whose loss reads it, and a row may set any of them: Row.constants); the modalities
    whose segment labels it trains on; whether it reads each modality's video-level labels
    ([B, 2, C], audio then visual: the split's weak_audio and weak_visual), which only some
    data sets have (DatasetDescription.modality_labels: LFAV, not LLP), so that its rows are
    planned only there."""

    function: str | Callable
    constants: tuple[str, ...]
    labels: tuple[str, ...] = ()
    modality_labels: bool = False


LOSS_KINDS: dict[str, LossKind] = {
    "han": LossKind("han_loss", ("smoothing_audio", "smoothing_visual")),  # Eq. 2
    "plg": LossKind("basic_loss", ("smoothing_audio",), ("visual",)),  # Eq. 5
    "plg_segbce": LossKind("segment_bce_loss", ("smoothing_audio", "rl_lambda"), ("visual",)),
    "plg_rl": LossKind("richness_aware_loss", ("smoothing_audio", "rl_lambda", "rl_distance", "rl_eps"),
                       ("visual",)),  # Eq. 9
    "plg_av_rl": LossKind("audio_visual_loss", ("smoothing_audio", "rl_lambda", "rl_distance", "rl_eps"),
                          ("visual", "audio")),
    "plg_av_temporal": LossKind("audio_visual_temporal_loss", ("rl_lambda", "rl_distance", "rl_eps"),
                                ("visual", "audio")),
    "valor": LossKind("valor_loss", (), ("visual", "audio")),  # VALOR's segment BCE on both modalities
    # Eq. 2 with p^a and p^v trained on each modality's labels (LFAV's real_av_labels)
    "modality_labels": LossKind("modality_labels_loss", (), modality_labels=True),
}
# Where each loss constant is set in the configuration: (section, key); the defaults of the
# config's rows (each a LossConfig field; vplan_core.config checks the schema has the key).
CONSTANT_KEYS = {"smoothing_audio": ("train", "smoothing_audio"), "smoothing_visual": ("train", "smoothing_visual"),
                 "rl_lambda": ("rl", "lambda"), "rl_distance": ("rl", "distance"), "rl_eps": ("rl", "eps")}
CONSTANT_DEFAULTS = {"smoothing_audio": 1.0, "smoothing_visual": 0.9}  # LossConfig's, when the config omits them


@dataclass(frozen=True)
class Labels:
    """Where one modality's segment labels come from: nowhere (the video label only), PLG from a
    pseudo-label feature (vplan_core.feature_registry), VALOR's released segment pseudo labels of
    a modality (config dataset.released_labels), or PLD of the labels a stage-1 row trained on,
    refined with that row's models."""

    kind: str = NONE
    feature: str | None = None  # PLG: the pseudo-label feature
    modality: str | None = None  # RELEASED: the modality whose released labels these are
    stage1: str | None = None  # PLD: the row whose models refine its labels


def plg(feature: str) -> Labels:
    return Labels(PLG, feature=feature)


def released(modality: str) -> Labels:
    return Labels(RELEASED, modality=modality)


def pld(stage1: str) -> Labels:
    return Labels(PLD, stage1=stage1)


@dataclass(frozen=True)
class LabelKind:
    """One kind of segment labels (Labels.kind), all that the plan, the training job and the
    report know of it. problem: (modality, labels, rows, labelled) -> what is wrong with a row's
    labels of this kind for `modality`, or None (labelled: pseudo-label feature -> the modality
    it labels); path: (RunPaths, labels, split, refiner, seeds) -> the file or folder a job reads
    them from (refiner: the parser whose stage-1 models refine PLD's), None where there is none
    and the training job builds them; reader: the class in vplan_core.training.outputs that
    reads or builds them there (videos: the videos that have them, None for all; load: the
    labels); title: its name in the report; stage: Fig. 2's stage of a row trained on them."""

    title: str
    problem: Callable[[str, Labels, dict, dict], str | None]
    path: Callable | None
    reader: str
    stage: int = 1


def _plg_problem(modality: str, source: Labels, rows: dict, labelled: dict[str, str]) -> str | None:
    if labelled.get(source.feature) != modality:
        return f"PLG of {source.feature!r} for its {modality} labels, which is no pseudo-label feature of that modality"
    return None


def _released_problem(modality: str, source: Labels, rows: dict, labelled: dict[str, str]) -> str | None:
    return None if source.modality == modality else f"VALOR's released {source.modality} labels for its {modality} labels"


def _pld_problem(modality: str, source: Labels, rows: dict, labelled: dict[str, str]) -> str | None:
    stage1 = rows.get(source.stage1)
    if stage1 is None or stage1.stage != 1 or modality not in stage1.labels \
            or LABEL_KINDS[stage1.labels[modality].kind].path is None:
        return (f"PLD of {source.stage1!r}'s {modality} labels, which is no stage-1 row with {modality} PLG or "
                f"released labels")
    return None


LABEL_KINDS: dict[str, LabelKind] = {
    PLG: LabelKind("PLG", _plg_problem, lambda paths, source, split, refiner, seeds:
                   paths.plg_labels(source.feature, split), reader="SharedLabels"),
    RELEASED: LabelKind("VALOR's released labels", _released_problem, lambda paths, source, split, refiner, seeds:
                        paths.released_labels(source.modality, split), reader="SharedLabels"),
    PLD: LabelKind("PLD", _pld_problem, lambda paths, source, split, refiner, seeds:
                   paths.pld_dir(refiner, source.stage1, seeds), reader="SeedLabels", stage=2),
}


@dataclass(frozen=True)
class Row:
    """One row: its loss (LOSS_KINDS), each modality's labels, its title in the ablation table
    and in Table V (another parser on the same labels), whether Table V trains it, its control
    (the row it adds one thing to, which the report subtracts from it seed by seed) and the
    constants of its loss it sets itself."""

    name: str
    title: str
    short_title: str
    loss: str
    visual: Labels = Labels()
    audio: Labels = Labels()
    table_v: bool = False
    control: str | None = None
    constants: dict = field(default_factory=dict)  # loss constant -> this row's value (else the config's)

    @property
    def labels(self) -> dict[str, Labels]:
        """modality -> its labels, for the modalities the row has segment labels of."""
        return {m: source for m, source in (("visual", self.visual), ("audio", self.audio)) if source.kind != NONE}

    @property
    def stage(self) -> int:
        """Fig. 2's stage: 1 trains on the video labels, PLG's or released ones, 2 on labels PLD refined."""
        return max((LABEL_KINDS[source.kind].stage for source in self.labels.values()), default=1)

    @property
    def modality_labels(self) -> bool:
        """Whether it trains on each modality's video-level labels (LossKind.modality_labels)."""
        return LOSS_KINDS[self.loss].modality_labels

    @property
    def features(self) -> set[str]:
        """The pseudo-label features behind its labels (PLD's through its stage-1 row)."""
        return {s.feature for s in self.labels.values() if s.feature} | {
            f for s in self.labels.values() if s.stage1 for f in ROWS[s.stage1].features}

    @property
    def released_modalities(self) -> set[str]:
        """The modalities whose released labels are behind its labels (PLD's through its stage-1 row)."""
        return {s.modality for s in self.labels.values() if s.modality} | {
            m for s in self.labels.values() if s.stage1 for m in ROWS[s.stage1].released_modalities}


ROWS: dict[str, Row] = {row.name: row for row in (
    Row("row1_han", "① HAN (Eq. 2)", "its own loss", "han", table_v=True),
    # ① on each modality's video-level labels instead of their union: planned where the data set has them (LFAV)
    Row("row1_modality_labels", "① on modality-wise labels (LFAV's real_av_labels)", "on modality-wise labels",
        "modality_labels", control="row1_han"),
    Row("row2_plg", "② + PLG (Eq. 5)", "+ PLG", "plg", visual=plg("clip"), table_v=True,
        control="row1_han"),
    Row("row3_plg_segbce", "③ + PLG + segment BCE", "+ PLG + segment BCE", "plg_segbce", visual=plg("clip"),
        control="row2_plg"),
    Row("row4_plg_rl", "④ + PLG + RL (Eq. 9)", "+ PLG + RL", "plg_rl", visual=plg("clip"), control="row2_plg"),
    Row("row5_vplan", "⑤ + PLD + RL (VPLAN)", "+ PLD + RL", "plg_rl", visual=pld("row4_plg_rl"), table_v=True,
        control="row4_plg_rl"),
    Row("row6_plg_av", "⑥ + PLG-AV: CLIP and CLAP labels, audio labels where they mark silence",
        "+ PLG-AV, audio where silent", "plg_av_temporal", visual=plg("clip"), audio=plg("clap"),
        control="row4_plg_rl"),
    Row("row7_plg_av_pld", "⑦ + PLD on both, audio labels where they mark silence",
        "+ PLD on both, audio where silent", "plg_av_temporal", visual=pld("row6_plg_av"), audio=pld("row6_plg_av"),
        control="row6_plg_av"),
    # row ⑥ as first built, the visual RL's form on audio: kept so that the report compares the two
    Row("row6_plg_av_rl", "⑥ as first built: PLG-AV + RL on both", "+ PLG-AV + RL on both", "plg_av_rl",
        visual=plg("clip"), audio=plg("clap"), control="row6_plg_av"),
    # ④-⑦ on VALOR's released labels instead of PLG's: planned when dataset.released_labels has their modalities
    Row("row4_released_rl", "④ + RL (Eq. 9) on VALOR's released labels (CLIP)",
        "+ VALOR's released CLIP labels + RL", "plg_rl", visual=released("visual"),
        control="row4_plg_rl"),
    Row("row5_released_pld", "⑤ + PLD + RL on VALOR's released labels (CLIP)",
        "+ PLD of VALOR's released CLIP labels + RL", "plg_rl", visual=pld("row4_released_rl"),
        control="row4_released_rl"),
    Row("row6_released_av", "⑥ on VALOR's released labels (CLIP and CLAP), audio where they mark silence",
        "+ VALOR's released CLIP and CLAP labels, audio where silent", "plg_av_temporal",
        visual=released("visual"), audio=released("audio"), control="row4_released_rl"),
    Row("row7_released_av_pld", "⑦ + PLD on both, VALOR's released labels (CLIP and CLAP), audio where they mark silence",
        "+ PLD of VALOR's released CLIP and CLAP labels, audio where silent", "plg_av_temporal",
        visual=pld("row6_released_av"), audio=pld("row6_released_av"),
        control="row6_released_av"),
    # VALOR's loss (a segment BCE on both modalities) on each label source, and VPLAN's PLD of its labels
    Row("valor_plg", "VALOR's loss on PLG labels (CLIP and CLAP)", "VALOR's loss on PLG labels", "valor",
        visual=plg("clip"), audio=plg("clap"), control="row6_plg_av"),
    Row("valor_released", "VALOR: its loss on its released labels (CLIP and CLAP)",
        "VALOR's loss on VALOR's released labels", "valor", visual=released("visual"), audio=released("audio"),
        control="valor_plg"),
    Row("valor_released_pld", "VALOR + PLD of its released labels (by its own models)",
        "VALOR's loss on PLD of VALOR's released labels", "valor",
        visual=pld("valor_released"), audio=pld("valor_released"), control="valor_released"),
)}
# The two ends of the table, which the report compares class by class.
BASELINE_ROW, VPLAN_ROW = "row1_han", "row5_vplan"


def check_rows(rows: dict[str, Row], labelled: dict[str, str]) -> None:
    """Each row's loss is a loss kind and its labels are the ones that loss reads, each of a
    label kind and right by that kind (LabelKind.problem), the constants it sets are its loss's,
    and its control is another row. labelled: pseudo-label feature -> the modality it labels
    (the plan passes the feature registry's)."""
    for row in rows.values():
        if row.loss not in LOSS_KINDS:
            raise ValueError(f"row {row.name}: unknown loss {row.loss!r}; expected one of {tuple(LOSS_KINDS)}")
        if row.control is not None and (row.control not in rows or row.control == row.name):
            raise ValueError(f"row {row.name}: its control {row.control!r} is no other row of {sorted(rows)}")
        if tuple(m for m in MODALITIES if m in row.labels) != tuple(sorted(LOSS_KINDS[row.loss].labels, key=MODALITIES.index)):
            raise ValueError(f"row {row.name}: loss {row.loss!r} reads {LOSS_KINDS[row.loss].labels} labels, "
                             f"the row has {tuple(row.labels)}")
        foreign = sorted(set(row.constants) - set(LOSS_KINDS[row.loss].constants))
        if foreign:
            raise ValueError(f"row {row.name}: sets {foreign}, which loss {row.loss!r} does not read; it reads "
                             f"{LOSS_KINDS[row.loss].constants}")
        for modality, source in row.labels.items():
            if source.kind not in LABEL_KINDS:
                raise ValueError(f"row {row.name}: unknown label source {source.kind!r} for its {modality} labels; "
                                 f"expected one of {tuple(LABEL_KINDS)}")
            problem = LABEL_KINDS[source.kind].problem(modality, source, rows, labelled)
            if problem:
                raise ValueError(f"row {row.name}: {problem}")


def _defines(module: str, name: str) -> bool:
    """Whether a vplan_core module defines `name` (a function, class or assignment at its top
    level), read from its source: planning imports no torch."""
    source = Path(__file__).parents[2].joinpath(*module.split(".")).with_suffix(".py")
    return any(getattr(node, "name", None) == name or any(getattr(t, "id", None) == name for t in getattr(node, "targets", ()))
               for node in ast.parse(source.read_text()).body)


def check_kinds(losses: dict[str, LossKind], label_kinds: dict[str, LabelKind]) -> None:
    """Each loss kind's function is defined in vplan_core.method.losses, its constants are
    CONSTANT_KEYS' and its labels modalities; each label kind's reader is defined in
    vplan_core.training.outputs. Run on import, so that a forgotten function fails the plan,
    not a training job."""
    for name, kind in losses.items():
        if isinstance(kind.function, str) and not _defines(LOSSES_MODULE, kind.function):
            raise ValueError(f"LOSS_KINDS[{name!r}]: its function {kind.function!r} is not defined in {LOSSES_MODULE}")
        unknown = sorted(set(kind.constants) - set(CONSTANT_KEYS))
        if unknown:
            raise ValueError(f"LOSS_KINDS[{name!r}]: constants {unknown} are no CONSTANT_KEYS entry")
        if not set(kind.labels) <= set(MODALITIES):
            raise ValueError(f"LOSS_KINDS[{name!r}]: labels {kind.labels} are not of {MODALITIES}")
    for name, kind in label_kinds.items():
        if not _defines(READERS_MODULE, kind.reader):
            raise ValueError(f"LABEL_KINDS[{name!r}]: its reader {kind.reader!r} is not defined in {READERS_MODULE}")


check_kinds(LOSS_KINDS, LABEL_KINDS)
