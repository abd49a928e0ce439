"""Data plumbing: each data set described once (description), its annotations (annotations),
videos and their sampling (video), the manifest of every video (manifest), shards of per-video
work (shards), released pre-extracted features (official), VALOR's released segment labels
(released_labels), equal-length training samples (equal_length) and the arrays one training run
needs (dataset)."""
