"""The rows of the paper's ablation (Table III), rows ⑥-⑦ (audio pseudo labels from CLAP, as
VALOR and the paper's journal version) and rows ④-⑦ again on VALOR's released segment labels,
each described once as data: its loss, where each modality's segment labels come from, its
titles and the tables it belongs to.

The plan (vplan_core.plan.row_job) turns a row into a training job's inputs and settings; the
rules and scripts only read that. A new row on existing labels is a line in ROWS; a new loss is
a line in LOSS_KINDS and its function in vplan_core.method.losses.
Torch-free: the workflow plans with it.
"""
from __future__ import annotations

from dataclasses import dataclass

from vplan_core.feature_registry import FEATURES

MODALITIES = ("visual", "audio")
NONE, PLG, RELEASED, PLD = "none", "plg", "released", "pld"
# What each stage-1 label source is called in the report's label-quality tables.
LABEL_TITLES = {PLG: "PLG", RELEASED: "VALOR's released labels"}


@dataclass(frozen=True)
class LossKind:
    """What a loss reads: the LossConfig constants it uses (only those reach a row's settings,
    so changing rl.distance reruns only the rows whose loss reads it) and the modalities whose
    segment labels it trains on, in the order its function takes them."""

    constants: tuple[str, ...]
    labels: tuple[str, ...] = ()


LOSS_KINDS: dict[str, LossKind] = {
    "han": LossKind(("smoothing_audio", "smoothing_visual")),  # Eq. 2
    "plg": LossKind(("smoothing_audio",), ("visual",)),  # Eq. 5
    "plg_segbce": LossKind(("smoothing_audio", "rl_lambda"), ("visual",)),
    "plg_rl": LossKind(("smoothing_audio", "rl_lambda", "rl_distance", "rl_eps"), ("visual",)),  # Eq. 9
    "plg_av_rl": LossKind(("smoothing_audio", "rl_lambda", "rl_distance", "rl_eps"), ("visual", "audio")),
    "plg_av_temporal": LossKind(("rl_lambda", "rl_distance", "rl_eps"), ("visual", "audio")),
    "valor": LossKind((), ("visual", "audio")),  # VALOR's segment BCE on both modalities
}
# Where each loss constant is set in the configuration: (section, key).
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
class Row:
    """One row: its loss (LOSS_KINDS), each modality's labels, its title in the ablation table
    and in Table V (another parser on the same labels), whether Table V trains it, and its
    control: the row it adds one thing to, which the report subtracts from it seed by seed."""

    name: str
    title: str
    short_title: str
    loss: str
    visual: Labels = Labels()
    audio: Labels = Labels()
    table_v: bool = False
    control: str | None = None

    @property
    def labels(self) -> dict[str, Labels]:
        """modality -> its labels, for the modalities the row has segment labels of."""
        return {m: source for m, source in (("visual", self.visual), ("audio", self.audio)) if source.kind != NONE}

    @property
    def stage(self) -> int:
        """Fig. 2's stage: 1 trains on the video labels, PLG's or released ones, 2 on labels PLD refined."""
        return 2 if any(source.kind == PLD for source in self.labels.values()) else 1

    @property
    def features(self) -> set[str]:
        """The pseudo-label features behind its labels (PLD's through its stage-1 row)."""
        return {s.feature for s in self.labels.values() if s.kind == PLG} | {
            f for s in self.labels.values() if s.kind == PLD for f in ROWS[s.stage1].features}

    @property
    def released_modalities(self) -> set[str]:
        """The modalities whose released labels are behind its labels (PLD's through its stage-1 row)."""
        return {s.modality for s in self.labels.values() if s.kind == RELEASED} | {
            m for s in self.labels.values() if s.kind == PLD for m in ROWS[s.stage1].released_modalities}


ROWS: dict[str, Row] = {row.name: row for row in (
    Row("row1_han", "① HAN (Eq. 2)", "its own loss", "han", table_v=True),
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


def check_rows(rows: dict[str, Row] = ROWS) -> None:
    """Each row's labels are the ones its loss reads; PLG labels a modality from a feature whose
    role is that modality's labels; released labels are that modality's release; PLD refines a
    stage-1 row's PLG or released labels; a row's control is another row."""
    for row in rows.values():
        if row.control is not None and (row.control not in rows or row.control == row.name):
            raise ValueError(f"row {row.name}: its control {row.control!r} is no other row of {sorted(rows)}")
        if tuple(m for m in MODALITIES if m in row.labels) != tuple(sorted(LOSS_KINDS[row.loss].labels, key=MODALITIES.index)):
            raise ValueError(f"row {row.name}: loss {row.loss!r} reads {LOSS_KINDS[row.loss].labels} labels, "
                             f"the row has {tuple(row.labels)}")
        for modality, source in row.labels.items():
            if source.kind not in (PLG, RELEASED, PLD):
                raise ValueError(f"row {row.name}: unknown label source {source.kind!r} for its {modality} labels; "
                                 f"expected one of {(PLG, RELEASED, PLD)}")
            spec = FEATURES.get(source.feature) if source.kind == PLG else None
            if source.kind == PLG and (spec is None or spec.labels is None or spec.labels.modality != modality):
                raise ValueError(f"row {row.name}: PLG of {source.feature!r} for its {modality} labels, which is no "
                                 f"pseudo-label feature of that modality")
            if source.kind == RELEASED and source.modality != modality:
                raise ValueError(f"row {row.name}: VALOR's released {source.modality} labels for its {modality} labels")
            if source.kind == PLD and (source.stage1 not in rows or rows[source.stage1].stage != 1
                                       or modality not in rows[source.stage1].labels):
                raise ValueError(f"row {row.name}: PLD of {source.stage1!r}'s {modality} labels, which is no "
                                 f"stage-1 row with {modality} PLG or released labels")


check_rows()
