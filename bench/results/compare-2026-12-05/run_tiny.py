"""Run the tiny demo (all rows, three families, MGN refining its own labels) in a work folder."""
import sys
from pathlib import Path
from tests.workflow_runs import tiny_demo_config, write_config, snakemake, REPO

workdir = Path(sys.argv[1]); workdir.mkdir(parents=True, exist_ok=True)
config = tiny_demo_config()
(workdir / "report_template.md").write_text((REPO / "vplan_core/templates/report.md").read_text())
config["report"]["template"] = "report_template.md"
config["train"]["models"] = ["han", "mgn", "mm_pyramid"]
config["models"]["mgn"]["pld_source"] = "own"
config["models"]["mgn"].update(epochs=2, batch_size=4)
config["models"]["mm_pyramid"].update(epochs=2, batch_size=4)
config["models"]["mm_pyramid"]["kwargs"].update(hidden_dim=32)
config["models"]["mgn"]["kwargs"].update(dim=32)
print(REPO)
snakemake(workdir, write_config(workdir, config), "--cores", "2")
