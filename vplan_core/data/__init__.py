"""Data plumbing: LLP annotations (llp), videos and their sampling (video), the manifest of every
video (manifest), shards of per-video work (shards), released pre-extracted features (official)
and the arrays one training run needs (dataset)."""
