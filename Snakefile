# vplan: VPLAN (pseudo visual labels for audio-visual video parsing) as a Snakemake workflow.
# Stages read like the method (Fig. 2): videos -> manifest -> features -> PLG (or released) labels -> stage-1
# training (rows 1-4) -> PLD refinement -> stage-2 retraining (row 5) -> evaluation -> report. Default config: the embedded demo.
from snakemake.utils import min_version

min_version("9.0")


# config.yaml (the demo) is the default; a --configfile replaces it instead of being merged into
# it, so that a real data set's config never inherits the demo's settings.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"



include: "rules/common.smk"
include: "rules/demo.smk"
include: "rules/manifest.smk"
include: "rules/features.smk"
include: "rules/plg.smk"
include: "rules/released_labels.smk"
include: "rules/train.smk"
include: "rules/pld.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"


rule all:
    input:
        report_outputs(),
    default_target: True


onsuccess:
    print_manifest_summary(PATHS.manifest_summary)
