"""The paper's ablation rows (Table III) as trainer configurations, not code paths."""
from __future__ import annotations

# row name -> (loss kind of vplan_core.losses, source of the segment-level visual labels)
ROWS: dict[str, tuple[str, str | None]] = {
    "row1_han": ("han", None),
    "row2_plg": ("plg", "plg"),
    "row3_plg_segbce": ("plg_segbce", "plg"),
    "row4_plg_rl": ("plg_rl", "plg"),
    "row5_vplan": ("plg_rl", "pld"),
}

# PLD refines the labels with the forward loss of the stage-1 model: row 4 (PLG + RL, Eq. 9).
PLD_SOURCE_ROW = "row4_plg_rl"

ROW_TITLES = {
    "row1_han": "① HAN (Eq. 2)",
    "row2_plg": "② + PLG (Eq. 5)",
    "row3_plg_segbce": "③ + PLG + segment BCE",
    "row4_plg_rl": "④ + PLG + RL (Eq. 9)",
    "row5_vplan": "⑤ + PLD + RL (VPLAN)",
}
