"""HAN: the MMIL_Net of YapengTian/AVVP-ECCV20 (nets/net_audiovisual.py).

Parameter names follow the reference exactly so that a state dict saved by the original code
loads with ``load_state_dict(sd, strict=False)``; only the reference's three unused encoders
(audio_encoder, visual_encoder, cmt_encoder) are left over as unexpected keys. Attention runs
batch-first (the reference permutes to sequence-first); parameters and outputs are identical.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


class HANLayer(nn.Module):
    """Hybrid attention: cross-modal + self attention, then a feed-forward block."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 512, dropout: float = 0.1):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.cm_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout11 = nn.Dropout(dropout)
        self.dropout12 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, src_q: torch.Tensor, src_v: torch.Tensor) -> torch.Tensor:
        """src_q attends to itself and to src_v; both [B, T, d]."""
        src1 = self.cm_attn(src_q, src_v, src_v, need_weights=False)[0]
        src2 = self.self_attn(src_q, src_q, src_q, need_weights=False)[0]
        src_q = self.norm1(src_q + self.dropout11(src1) + self.dropout12(src2))
        src2 = self.linear2(self.dropout(F.relu(self.linear1(src_q))))
        return self.norm2(src_q + self.dropout2(src2))


class Encoder(nn.Module):
    """Applies each (shared) layer to audio and to visual, the two roles swapped."""

    def __init__(self, encoder_layer: nn.Module, num_layers: int, d_model: int = 512):
        super().__init__()
        self.layers = nn.ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        # Never applied (the reference builds Encoder with norm=None); kept so its keys load.
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, src_a: torch.Tensor, src_v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out_a, out_v = src_a, src_v
        for layer in self.layers:
            # As in the reference: every layer reads the encoder's inputs, not the previous
            # layer's outputs (identical for the single layer HAN uses).
            out_a = layer(src_a, src_v)
            out_v = layer(src_v, src_a)
        return out_a, out_v


class HAN(nn.Module):
    """MMIL_Net: fused audio/visual features, HAN layer, attentive MMIL pooling.

    forward(audio [B,T,A], visual_2d [B,T*f,D2], visual_3d [B,T,D3]) returns
    (global_prob [B,C], a_prob [B,C], v_prob [B,C], frame_prob [B,T,2,C]).
    """

    def __init__(
        self,
        audio_dim: int = 128,
        visual_2d_dim: int = 2048,
        visual_3d_dim: int = 512,
        d_model: int = 512,
        num_classes: int = 25,
        frames_per_segment: int = 8,
        nhead: int = 1,
        dim_feedforward: int = 512,
        dropout: float = 0.1,
        standardize_inputs: bool = False,
    ):
        super().__init__()
        self.init_kwargs = dict(
            audio_dim=audio_dim, visual_2d_dim=visual_2d_dim, visual_3d_dim=visual_3d_dim,
            d_model=d_model, num_classes=num_classes, frames_per_segment=frames_per_segment,
            nhead=nhead, dim_feedforward=dim_feedforward, dropout=dropout,
            standardize_inputs=standardize_inputs,
        )
        # Not in the reference (off by default, so its state dicts load unchanged): features of
        # randomly initialised backbones (the demo) have arbitrary, tiny scales that pretrained
        # ones do not; per-dimension training-set statistics, kept as buffers, make them O(1).
        self.standardize_inputs = standardize_inputs
        if standardize_inputs:
            for name, dim in (("audio", audio_dim), ("visual_2d", visual_2d_dim), ("visual_3d", visual_3d_dim)):
                self.register_buffer(f"{name}_mean", torch.zeros(dim))
                self.register_buffer(f"{name}_std", torch.ones(dim))
        self.frames_per_segment = frames_per_segment
        self.fc_prob = nn.Linear(d_model, num_classes)
        self.fc_frame_att = nn.Linear(d_model, num_classes)
        self.fc_av_att = nn.Linear(d_model, num_classes)
        self.fc_a = nn.Linear(audio_dim, d_model)
        self.fc_v = nn.Linear(visual_2d_dim, d_model)
        self.fc_st = nn.Linear(visual_3d_dim, d_model)
        self.fc_fusion = nn.Linear(2 * d_model, d_model)
        self.hat_encoder = Encoder(
            HANLayer(d_model, nhead, dim_feedforward, dropout), num_layers=1, d_model=d_model
        )

    @torch.no_grad()
    def fit_input_statistics(self, audio: torch.Tensor, visual_2d: torch.Tensor, visual_3d: torch.Tensor) -> None:
        """Set the standardisation buffers from training features ([N, T, D] each)."""
        for name, x in (("audio", audio), ("visual_2d", visual_2d), ("visual_3d", visual_3d)):
            flat = x.reshape(-1, x.shape[-1]).float()
            getattr(self, f"{name}_mean").copy_(flat.mean(0))
            getattr(self, f"{name}_std").copy_(flat.std(0) + 1e-6)

    def forward(
        self, audio: torch.Tensor, visual_2d: torch.Tensor, visual_3d: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.standardize_inputs:
            audio = (audio - self.audio_mean) / self.audio_std
            visual_2d = (visual_2d - self.visual_2d_mean) / self.visual_2d_std
            visual_3d = (visual_3d - self.visual_3d_mean) / self.visual_3d_std
        x1 = self.fc_a(audio)
        vid_s = self.fc_v(visual_2d)
        b, n, d = vid_s.shape
        # avg_pool2d (8, 1) of the reference: mean over each run of f consecutive frames.
        vid_s = vid_s.reshape(b, n // self.frames_per_segment, self.frames_per_segment, d).mean(2)
        vid_st = self.fc_st(visual_3d)
        x2 = self.fc_fusion(torch.cat((vid_s, vid_st), dim=-1))
        x1, x2 = self.hat_encoder(x1, x2)

        x = torch.stack((x1, x2), dim=-2)  # [B, T, 2, d]
        frame_prob = torch.sigmoid(self.fc_prob(x))
        frame_att = torch.softmax(self.fc_frame_att(x), dim=1)
        av_att = torch.softmax(self.fc_av_att(x), dim=2)
        temporal_prob = frame_att * frame_prob
        global_prob = (temporal_prob * av_att).sum(dim=2).sum(dim=1)
        a_prob = temporal_prob[:, :, 0, :].sum(dim=1)
        v_prob = temporal_prob[:, :, 1, :].sum(dim=1)
        return global_prob, a_prob, v_prob, frame_prob
