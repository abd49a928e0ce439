"""Backbones for audio-visual video parsing."""
from vplan_core.models.han import HAN

__all__ = ["HAN"]
