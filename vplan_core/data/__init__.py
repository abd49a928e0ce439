"""Data plumbing: LLP annotations (llp), videos and their sampling (video), the manifest of every
video (manifest), shards of per-video work (shards), released pre-extracted features (official),
VALOR's released segment labels (released_labels) and the arrays one training run needs (dataset)."""
