"""Feature extraction: VGGish (vggish), 2D CNN and R(2+1)D (cnn), CLIP (clip), weights loading
(weights), zarr stores (store) and the per-shard driver (extract).

Kept import-free so that reading a store does not import torch or open_clip.
"""
