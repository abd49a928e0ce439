"""Attentive MMIL pooling (HAN's, which MM-Pyramid reuses): from each segment's audio and
visual features to the common output contract (p, p^a, p^v, frame_prob)."""
from __future__ import annotations

import torch
from torch import nn


def attentive_mmil(x: torch.Tensor, fc_prob: nn.Linear, fc_frame_att: nn.Linear, fc_av_att: nn.Linear
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """x [B, T, 2, d] (audio at index 0, visual at 1) -> (global_prob [B,C], a_prob [B,C],
    v_prob [B,C], frame_prob [B,T,2,C]): segment probabilities weighted by a softmax over time
    and, for the video level, over the two modalities."""
    return pool_frame_logits(fc_prob(x), x, fc_frame_att, fc_av_att)


def pool_frame_logits(frame_logits: torch.Tensor, x: torch.Tensor, fc_frame_att: nn.Linear, fc_av_att: nn.Linear
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """attentive_mmil from the segment logits fc_prob(x) (VALOR's loss reads them too)."""
    frame_prob = torch.sigmoid(frame_logits)
    frame_att = torch.softmax(fc_frame_att(x), dim=1)
    av_att = torch.softmax(fc_av_att(x), dim=2)
    temporal_prob = frame_att * frame_prob
    global_prob = (temporal_prob * av_att).sum(dim=2).sum(dim=1)
    a_prob = temporal_prob[:, :, 0, :].sum(dim=1)
    v_prob = temporal_prob[:, :, 1, :].sum(dim=1)
    return global_prob, a_prob, v_prob, frame_prob
