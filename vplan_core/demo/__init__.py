"""The embedded demo: a synthetic mini-LLP the workflow generates itself, and a demo CLIP.

No video, weight or data download is possible on these machines, so the demo makes everything
it needs from a seed: scenarios (ground truth and LLP-format annotation files), real mp4 clips
whose objects and sounds follow that ground truth, and a small open_clip model trained on
synthetic object images only. Modules: scenarios, render, sound, clips, clip_training.
"""
