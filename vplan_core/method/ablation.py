"""The paper's ablation rows (Table III) as trainer configurations, not code paths."""
from __future__ import annotations

from typing import NamedTuple


class Row(NamedTuple):
    loss: str  # the loss kind (vplan_core.method.losses)
    labels: str | None  # where its segment-level visual labels come from: None, "plg" or "pld"


ROWS: dict[str, Row] = {
    "row1_han": Row("han", None),
    "row2_plg": Row("plg", "plg"),
    "row3_plg_segbce": Row("plg_segbce", "plg"),
    "row4_plg_rl": Row("plg_rl", "plg"),
    "row5_vplan": Row("plg_rl", "pld"),
}

# PLD refines the labels with the forward loss of the stage-1 model: row 4 (PLG + RL, Eq. 9).
PLD_SOURCE_ROW = "row4_plg_rl"
# Fig. 2's two stages: rows trained on the video labels or PLG's labels, then the retraining on
# the labels PLD refined with a stage-1 model.
STAGE2_ROWS = tuple(name for name, row in ROWS.items() if row.labels == "pld")
STAGE1_ROWS = tuple(name for name in ROWS if name not in STAGE2_ROWS)
# The two ends of the table, which the report compares class by class.
BASELINE_ROW, VPLAN_ROW = "row1_han", "row5_vplan"

ROW_TITLES = {
    "row1_han": "① HAN (Eq. 2)",
    "row2_plg": "② + PLG (Eq. 5)",
    "row3_plg_segbce": "③ + PLG + segment BCE",
    "row4_plg_rl": "④ + PLG + RL (Eq. 9)",
    "row5_vplan": "⑤ + PLD + RL (VPLAN)",
}
