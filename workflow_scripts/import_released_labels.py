"""One split's VALOR-released segment labels of one modality as a labels npz, exactly as
released; the split's videos without a released file are counted and named in the summary."""
from vplan_core import atomic
from vplan_core.data.dataset import save_labels
from vplan_core.data.annotations import load_split
from vplan_core.data.description import describe
from vplan_core.data.released_labels import import_split
from vplan_core.logs import job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    ids, labels, summary = import_split(p.release["source"], load_split(p.annotations, snakemake.wildcards.split, describe(p.description)))
    save_labels(snakemake.output.labels, ids, labels)
    atomic.write_json(snakemake.output.summary, summary)
    print(f"{summary['labelled']} of {summary['videos']} {summary['split']} videos labelled from {summary['source']}; "
          f"{summary['missing']['count']} without a released file; "
          f"{summary['outside_video_label']} (video, class) labels outside the video label")
