"""The paper's ablation rows (Table III), and rows ⑥-⑦ with audio pseudo labels (CLAP; the
authors' journal version and VALOR), as trainer configurations, not code paths."""
from __future__ import annotations

from typing import NamedTuple


class Row(NamedTuple):
    loss: str  # the loss kind (vplan_core.method.losses)
    labels: str | None  # where its segment labels come from: None, "plg" or "pld"
    pld_from: str | None = None  # labels "pld": the stage-1 row whose models refine them
    audio: bool = False  # audio segment labels too (CLAP PLG; PLD on both modalities)


ROWS: dict[str, Row] = {
    "row1_han": Row("han", None),
    "row2_plg": Row("plg", "plg"),
    "row3_plg_segbce": Row("plg_segbce", "plg"),
    "row4_plg_rl": Row("plg_rl", "plg"),
    "row5_vplan": Row("plg_rl", "pld", pld_from="row4_plg_rl"),
    "row6_plg_av": Row("plg_av_rl", "plg", audio=True),
    "row7_plg_av_pld": Row("plg_av_rl", "pld", pld_from="row6_plg_av", audio=True),
}

# PLD refines the labels with the forward loss of the stage-1 model: row 4 (PLG + RL, Eq. 9).
PLD_SOURCE_ROW = "row4_plg_rl"
# ... and, for row 7, both modalities' labels with row 6's P^v and P^a.
AUDIO_PLD_SOURCE_ROW = "row6_plg_av"
# Fig. 2's two stages: rows trained on the video labels or PLG's labels, then the retraining on
# the labels PLD refined with a stage-1 model.
STAGE2_ROWS = tuple(name for name, row in ROWS.items() if row.labels == "pld")
STAGE1_ROWS = tuple(name for name in ROWS if name not in STAGE2_ROWS)
AUDIO_ROWS = tuple(name for name, row in ROWS.items() if row.audio)
# The two ends of the table, which the report compares class by class.
BASELINE_ROW, VPLAN_ROW = "row1_han", "row5_vplan"

ROW_TITLES = {
    "row1_han": "① HAN (Eq. 2)",
    "row2_plg": "② + PLG (Eq. 5)",
    "row3_plg_segbce": "③ + PLG + segment BCE",
    "row4_plg_rl": "④ + PLG + RL (Eq. 9)",
    "row5_vplan": "⑤ + PLD + RL (VPLAN)",
    "row6_plg_av": "⑥ + PLG-AV: CLIP and CLAP labels + RL on both",
    "row7_plg_av_pld": "⑦ + PLD on both + RL on both",
}
