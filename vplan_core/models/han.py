"""HAN: the MMIL_Net of YapengTian/AVVP-ECCV20 (nets/net_audiovisual.py).

Parameter names follow the reference exactly so that a state dict saved by the original code
loads with ``load_state_dict(sd, strict=False)``; only the reference's three unused encoders
(audio_encoder, visual_encoder, cmt_encoder) are left over as unexpected keys. Attention runs
batch-first (the reference permutes to sequence-first); parameters and outputs are identical.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from vplan_core.models.inputs import InputStandardization, segment_means
from vplan_core.models import Family
from vplan_core.models.noise import no_dropout, tape
from vplan_core.models.pooling import attentive_mmil


class HANLayer(nn.Module):
    """Hybrid attention: cross-modal + self attention, then a feed-forward block.

    The two nn.MultiheadAttention modules hold the reference's parameters (names and init);
    the attention itself is computed here so that its dropout, like every other dropout of the
    layer, reads the caller's noise tape.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 512, dropout: float = 0.1):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.cm_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.nhead = nhead

    def noise_size(self, batch: int, t_q: int, t_kv: int) -> int:
        """Uniform numbers one forward consumes: two attention maps, three d-wide and one
        feed-forward-wide activation."""
        d, ff = self.linear2.out_features, self.linear1.out_features
        return batch * (self.nhead * t_q * (t_kv + t_q) + t_q * (3 * d + ff))

    def _attention(self, attn: nn.MultiheadAttention, query: torch.Tensor, source: torch.Tensor,
                   drop) -> torch.Tensor:
        """Scaled dot-product attention of nn.MultiheadAttention (batch first, no masks)."""
        b, t_q, d = query.shape
        h = self.nhead
        w_q, w_k, w_v = attn.in_proj_weight.chunk(3)
        b_q, b_k, b_v = attn.in_proj_bias.chunk(3)

        def heads(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(b, x.shape[1], h, d // h).transpose(1, 2)

        q, k, v = heads(F.linear(query, w_q, b_q)), heads(F.linear(source, w_k, b_k)), heads(F.linear(source, w_v, b_v))
        weights = drop(torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d // h), dim=-1))
        out = (weights @ v).transpose(1, 2).reshape(b, t_q, d)
        return attn.out_proj(out)

    def forward(self, src_q: torch.Tensor, src_v: torch.Tensor, drop=no_dropout) -> torch.Tensor:
        """src_q attends to itself and to src_v; both [B, T, d]."""
        src1 = self._attention(self.cm_attn, src_q, src_v, drop)
        src2 = self._attention(self.self_attn, src_q, src_q, drop)
        src_q = self.norm1(src_q + drop(src1) + drop(src2))
        src2 = self.linear2(drop(F.relu(self.linear1(src_q))))
        return self.norm2(src_q + drop(src2))


class Encoder(nn.Module):
    """Applies each (shared) layer to audio and to visual, the two roles swapped."""

    def __init__(self, encoder_layer: nn.Module, num_layers: int, d_model: int = 512):
        super().__init__()
        self.layers = nn.ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        # Never applied (the reference builds Encoder with norm=None); kept so its keys load.
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def noise_size(self, batch: int, t_a: int, t_v: int) -> int:
        return sum(layer.noise_size(batch, t_a, t_v) + layer.noise_size(batch, t_v, t_a)
                   for layer in self.layers)

    def forward(self, src_a: torch.Tensor, src_v: torch.Tensor, drop=no_dropout
                ) -> tuple[torch.Tensor, torch.Tensor]:
        out_a, out_v = src_a, src_v
        for layer in self.layers:
            # As in the reference: every layer reads the encoder's inputs, not the previous
            # layer's outputs (identical for the single layer HAN uses).
            out_a = layer(src_a, src_v, drop)
            out_v = layer(src_v, src_a, drop)
        return out_a, out_v


class HAN(InputStandardization, nn.Module):
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
        self.init_standardization(standardize_inputs, dict(audio=audio_dim, visual_2d=visual_2d_dim,
                                                           visual_3d=visual_3d_dim))
        self.frames_per_segment = frames_per_segment
        self.dropout_p = dropout
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

    def noise_size(self, batch: int, segments: int = 10) -> int:
        """How many uniform numbers one training forward of `batch` videos consumes."""
        if not self.dropout_p:
            return 0
        return self.hat_encoder.noise_size(batch, segments, segments)

    def forward(
        self, audio: torch.Tensor, visual_2d: torch.Tensor, visual_3d: torch.Tensor,
        noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """noise: the uniform numbers dropout reads in training mode ([noise_size(B)]); drawn
        from the global generator when not given. No dropout in eval mode."""
        drop = tape(self, noise, self.noise_size(audio.shape[0], audio.shape[1]), self.dropout_p, audio.device)
        audio, visual_2d, visual_3d = self.standardize(audio, visual_2d, visual_3d)
        x1 = self.fc_a(audio)
        # avg_pool2d (8, 1) of the reference after fc_v: the mean over each run of f consecutive
        # frames. fc_v is affine, so averaging the frames first is the same function at 1/f of
        # the cost of its largest matrix product (the bulk of a training step); and the trainer
        # may keep only the means on the device (FAMILY.frame_means).
        vid_s = self.fc_v(segment_means(visual_2d, audio.shape[1], self.frames_per_segment))
        vid_st = self.fc_st(visual_3d)
        x2 = self.fc_fusion(torch.cat((vid_s, vid_st), dim=-1))
        x1, x2 = self.hat_encoder(x1, x2, drop)
        drop.check_used()

        x = torch.stack((x1, x2), dim=-2)  # [B, T, 2, d]
        return attentive_mmil(x, self.fc_prob, self.fc_frame_att, self.fc_av_att)


FAMILY = Family(
    "HAN", HAN, frame_means=True,
    # train.d_model is HAN's width and its feed-forward width (both 512 in the reference)
    build_kwargs=lambda config: dict(d_model=config.d_model, dim_feedforward=config.d_model, dropout=config.dropout),
    # the paper's Table V (= its Table III rows ①, ②, ⑤), LLP test F %
    paper={"row1_han": (60.1, 52.9, 48.9, 54.0, 55.4, 51.3, 48.9, 43.0, 47.7, 48.0),
           "row2_plg": (60.0, 63.7, 57.3, 60.3, 58.8, 51.1, 60.3, 50.4, 53.9, 50.2),
           "row5_vplan": (61.1, 65.5, 59.3, 62.0, 60.1, 52.1, 62.4, 52.4, 55.6, 51.3)})
