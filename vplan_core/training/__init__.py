"""Training and applying the parsers: the seed-batched trainer (trainer), per-epoch resume state (resume),
predictions (prediction), checkpoints (checkpoints) and a training job's per-seed files (outputs)."""
