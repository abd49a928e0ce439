"""Demo: render one shard of the synthetic clips as real mp4 files (H.264 + AAC)."""
from vplan_core.demo.clips import render_clips
from vplan_core.demo.scenarios import load_scenarios
from vplan_core.logs import job_log
from vplan_core.data.description import describe
from vplan_core.data.shards import all_video_ids, shard_ids

with job_log(snakemake.log[0]):
    p = snakemake.params
    wanted = set(shard_ids(all_video_ids(p.annotations, describe(p.description)), snakemake.wildcards.shard, p.shard_size))
    scenarios = [s for s in load_scenarios(snakemake.input.scenarios) if s["video_id"] in wanted]
    render_clips(scenarios, snakemake.output[0], **p.video)
    print(f"rendered {len(scenarios)} clips")
