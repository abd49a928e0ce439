"""Write one extracted feature's settings file (its settings and its weight files' sha256)."""
from vplan_core.features.extract import write_settings_file
from vplan_core.logs import job_log

with job_log(snakemake.log[0]):
    write_settings_file(snakemake.output[0], snakemake.params.feature, snakemake.params.settings,
                        list(snakemake.input.files))
