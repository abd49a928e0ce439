"""Say which ablation rows this configuration cannot train and why (no frames: no PLG)."""
from vplan_core import atomic
from vplan_core.logs import job_log

with job_log(snakemake.log[0]):
    note = {"trained": list(snakemake.params.run), "skipped": dict(snakemake.params.skipped)}
    atomic.write_json(snakemake.output[0], note)
    print(note)
