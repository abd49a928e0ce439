"""Evaluation: the ten AVVP numbers exactly as the reference (metrics), pseudo-label quality
(label_quality) and the run's report (report)."""
