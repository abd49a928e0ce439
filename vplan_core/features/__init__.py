"""Feature extraction: VGGish (vggish), 2D CNN and R(2+1)D (cnn), CLIP (clip), CLAP (clap),
weights loading (weights) and the per-shard driver (extract). The specs (feature_registry) and
the zarr stores (feature_store) sit one level up, below both data/ and features/.

Kept import-free so that planning a run does not import torch or open_clip.
"""
