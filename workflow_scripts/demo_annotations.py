"""Demo: draw the synthetic mini-LLP scenarios and write them as LLP annotation files."""
from pathlib import Path

from vplan_core.demo.scenarios import make_scenarios, save_scenarios, write_llp_csvs
from vplan_core.logs import job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    scenarios = make_scenarios(n_train=p.n_train, n_val=p.n_val, n_test=p.n_test, seed=p.seed)
    save_scenarios(scenarios, snakemake.output.scenarios)
    write_llp_csvs(scenarios, Path(snakemake.output.csvs[0]).parent)
    print(f"{len(scenarios)} scenarios")
