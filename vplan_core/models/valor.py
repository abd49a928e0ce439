"""VALOR: the MMIL_Net of Franklin905/VALOR (Lai, Chen and Wang, "Modality-Independent Teachers
Meet Weakly-Supervised Audio-Visual Event Parser", NeurIPS 2023).

Official code: https://github.com/Franklin905/VALOR, commit 2677da9ff4d40a7e035e7843ace1e5e91d7275bc
(HEAD, 2025-07-13; main_network.py unchanged since f20c7c5, "Initial release"): MMIL_Net, Encoder
and HANLayer of main_network.py, built by main_avvp.py from the recipes of scripts/.
tests/official/valor_official.py is a verbatim transcription, the oracle of tests/test_valor.py.

Identical to the official module:
  * parameter names and shapes: the official state dict (its released checkpoint_best.pt files)
    loads with strict load_state_dict; final_norm_a / final_norm_v are kept in both norm modes,
    as there, though only pre_norm applies them;
  * construction order, hence the same initial weights from the same seed; the encoder's layers
    are deep copies of one HANLayer (they start equal), as the official _get_clones;
  * the forward math, in train and eval mode, for both norm_where ('post_norm', 'pre_norm'):
      - each encoder layer is shared by the two modalities and runs audio first, then visual
        reading the audio it has just updated (unlike HAN, whose every layer reads the encoder's
        inputs); in pre_norm the query is normalised and the cross-modal keys are not;
      - HAN's attentive MMIL pooling, and the frame logits before the sigmoid as an extra output;
  * both input paths of the official forward: VGGish segments [B, T, 128] or CLAP HTSAT feature
    maps [B, 64, 768] as audio (official: viewed as [768, 2, 32], bicubic-upsampled to
    (2, 1024), fc_a, averaged over the 2 rows, adaptive-average-pooled to the segments), and
    ResNet-152 frames [B, T*8, 2048] (fc_v, then the mean of each segment's 8) or CLIP segment
    features [B, T, 768] (fc_v alone) as the 2D visual input;
  * defaults: main_avvp.py's (hidden 512, 8 heads, ff 1024, 1 layer, post_norm: the VALOR recipe;
    RECIPES below) and HANLayer's dropout 0.1 (MMIL_Net passes none).

Deviations (none changes a state dict, nor an output beyond float rounding):
  * the audio path is chosen by the constructor (audio_maps) instead of by the official test
    audio.size(1) == 64, so that a map of the wrong length is an error, not a segment sequence;
    the 2D visual path by length, as there (segment_means: frames when longer than T);
  * the map path's upsampling, row average and pooling are one fixed linear map of the 64 map
    rows (map_pooling, [T, 64]), applied before fc_a: fc_a is affine and the map's weights sum
    to 1 per segment, so it is the same function, at 1/200 of the official cost (fc_a on 2048
    upsampled positions, 2048 x 768 x hidden multiply-adds a video);
  * the 2D frames are averaged before fc_v instead of after (affine: the same function, as in
    models/han.py), so the trainer may keep only the segment means (FAMILY.frame_means);
  * num_classes, visual_3d_dim and the segments T (from visual_3d) replace the official
    literals 25, 512 and 10; attention is written out, batch first (nn.MultiheadAttention
    computes the same), so that its dropout reads the noise tape; standardize_inputs
    (models/inputs.py, off by default) as in every vplan family.

Randomness (all of it read from the noise tape, models/noise.py, at rate `dropout`): per encoder
layer, for audio then for visual, the cross-modal then the self-attention weights [B, h, T, T]
each, the two attention outputs [B, T, d] (dropout11, dropout12), the feed-forward activation
[B, T, ff] (dropout) and output [B, T, d] (dropout2): the official order, batch first (the
official activations are sequence first, [T, B, ...]; the tests map one onto the other).

Outputs: (global_prob [B,C], a_prob [B,C], v_prob [B,C], frame_prob [B,T,2,C], frame_logits
[B,T,2,C]). The official loss (main_avvp.py train()) reads the last: BCE(global_prob clamped to
[1e-7, 1 - 1e-7], video labels) + BCE-with-logits(frame_logits[:, :, 0], audio segment labels)
+ BCE-with-logits(frame_logits[:, :, 1], visual segment labels), each mean-reduced; so does
method.losses.valor_loss, which receives them through models.loss_outputs (frame_logits below).

The paper figures of issue 29 (UWAV's Table 1: segment level five, event level Type@AV only,
on VALOR's own labels) do not fit Family.paper (the ten figures of a vplan row), so paper is
empty.
"""
from __future__ import annotations

import copy
import functools

import torch
import torch.nn.functional as F
from torch import nn

from vplan_core.models import Family
from vplan_core.models.inputs import InputStandardization, segment_means
from vplan_core.models.noise import no_dropout, tape
from vplan_core.models.pooling import pool_frame_logits

NORMS = ("post_norm", "pre_norm")
MAP_ROWS, MAP_GRID, MAP_UPSAMPLED = 64, (2, 32), (2, 1024)  # the official literals of the map path

# The constructor arguments of the official recipes (scripts/train_valor*.sh); the input sizes
# come from the features (VALOR++: CLAP maps, audio_dim 768; CLIP, visual_2d_dim 768).
RECIPES = {
    "valor": dict(hidden_dim=512, nhead=8, ff_dim=1024, num_layers=1, norm_where="post_norm"),
    "valor_plus": dict(hidden_dim=256, nhead=8, ff_dim=1024, num_layers=4, norm_where="post_norm"),
    "valor_plus_plus": dict(hidden_dim=256, nhead=8, ff_dim=1024, num_layers=4, norm_where="post_norm",
                            audio_maps=True),
}


@functools.cache
def map_pooling(segments: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """[segments, 64]: the official map path before fc_a (view as [2, 32], bicubic upsampling to
    (2, 1024), mean over the 2 rows, adaptive average pooling) as the linear map it is, found by
    running those very operations on the 64 unit maps (in float64). Once per shape and device."""
    unit_maps = torch.eye(MAP_ROWS, dtype=torch.float64).view(MAP_ROWS, 1, *MAP_GRID)
    upsampled = F.interpolate(unit_maps, size=MAP_UPSAMPLED, mode="bicubic").mean(dim=2)  # [64, 1, 1024]
    pooled = F.adaptive_avg_pool1d(upsampled, segments)  # [64, 1, segments]
    return pooled[:, 0].T.contiguous().to(device=device, dtype=dtype)


class HANLayer(nn.Module):
    """main_network.py HANLayer (with_ca=True, its only use): cross-modal and self attention,
    then the feed-forward block, post- or pre-norm. The nn.MultiheadAttention modules hold the
    official parameters; the attention is computed here so that its dropout reads the tape."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.cm_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.nhead, self.dropout_p = nhead, dropout

    def noise_size(self, batch: int, t_q: int, t_kv: int) -> int:
        """Two attention maps, three d-wide activations and one feed-forward-wide one."""
        if not self.dropout_p:
            return 0
        d, ff = self.linear2.out_features, self.linear1.out_features
        return batch * (self.nhead * t_q * (t_kv + t_q) + t_q * (3 * d + ff))

    def _attention(self, attn: nn.MultiheadAttention, query: torch.Tensor, source: torch.Tensor,
                   drop) -> torch.Tensor:
        """nn.MultiheadAttention's scaled dot product (no masks), batch first."""
        b, t_q, d = query.shape
        head = d // self.nhead
        w_q, w_k, w_v = attn.in_proj_weight.chunk(3)
        b_q, b_k, b_v = attn.in_proj_bias.chunk(3)

        def heads(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(b, x.shape[1], self.nhead, head).transpose(1, 2)

        q, k, v = heads(F.linear(query, w_q, b_q)), heads(F.linear(source, w_k, b_k)), heads(F.linear(source, w_v, b_v))
        weights = drop(torch.softmax((q * head ** -0.5) @ k.transpose(-2, -1), dim=-1))
        return attn.out_proj((weights @ v).transpose(1, 2).reshape(b, t_q, d))

    def forward(self, src_q: torch.Tensor, src_kv: torch.Tensor, pre_norm: bool, drop=no_dropout) -> torch.Tensor:
        """src_q attends to src_kv and to itself; both [B, T, d]."""
        query = self.norm1(src_q) if pre_norm else src_q
        src1 = self._attention(self.cm_attn, query, src_kv, drop)
        src2 = self._attention(self.self_attn, query, query, drop)
        src_q = src_q + drop(src1) + drop(src2)
        if not pre_norm:
            src_q = self.norm1(src_q)
        hidden = self.norm2(src_q) if pre_norm else src_q
        src_q = src_q + drop(self.linear2(drop(F.relu(self.linear1(hidden)))))
        return src_q if pre_norm else self.norm2(src_q)


class Encoder(nn.Module):
    """main_network.py Encoder: each layer updates audio, then visual from the updated audio."""

    def __init__(self, encoder_layer: HANLayer, num_layers: int, hidden_dim: int):
        super().__init__()
        self.layers = nn.ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.final_norm_a = nn.LayerNorm(hidden_dim)
        self.final_norm_v = nn.LayerNorm(hidden_dim)

    def noise_size(self, batch: int, segments: int) -> int:
        return sum(2 * layer.noise_size(batch, segments, segments) for layer in self.layers)

    def forward(self, src_a: torch.Tensor, src_v: torch.Tensor, pre_norm: bool, drop=no_dropout
                ) -> tuple[torch.Tensor, torch.Tensor]:
        for layer in self.layers:
            src_a = layer(src_a, src_v, pre_norm, drop)
            src_v = layer(src_v, src_a, pre_norm, drop)
        if pre_norm:
            return self.final_norm_a(src_a), self.final_norm_v(src_v)
        return src_a, src_v


class VALOR(InputStandardization, nn.Module):
    """MMIL_Net: fused audio/visual features, the hybrid attention encoder, attentive MMIL pooling.

    forward(audio [B,T,A] or, with audio_maps, [B,64,A], visual_2d [B,T*f,D2] or [B,T,D2],
    visual_3d [B,T,D3]) returns (global_prob [B,C], a_prob [B,C], v_prob [B,C],
    frame_prob [B,T,2,C], frame_logits [B,T,2,C]).
    """

    def __init__(
        self,
        audio_dim: int = 128,
        visual_2d_dim: int = 2048,
        visual_3d_dim: int = 512,
        num_classes: int = 25,
        frames_per_segment: int = 8,
        hidden_dim: int = 512,
        nhead: int = 8,
        ff_dim: int = 1024,
        num_layers: int = 1,
        norm_where: str = "post_norm",
        dropout: float = 0.1,
        audio_maps: bool = False,
        standardize_inputs: bool = False,
    ):
        super().__init__()
        if norm_where not in NORMS:
            raise ValueError(f"norm_where must be one of {NORMS}: got {norm_where!r}")
        self.init_kwargs = dict(
            audio_dim=audio_dim, visual_2d_dim=visual_2d_dim, visual_3d_dim=visual_3d_dim,
            num_classes=num_classes, frames_per_segment=frames_per_segment, hidden_dim=hidden_dim,
            nhead=nhead, ff_dim=ff_dim, num_layers=num_layers, norm_where=norm_where, dropout=dropout,
            audio_maps=audio_maps, standardize_inputs=standardize_inputs,
        )
        self.init_standardization(standardize_inputs, dict(audio=audio_dim, visual_2d=visual_2d_dim,
                                                           visual_3d=visual_3d_dim))
        self.frames_per_segment = frames_per_segment
        self.pre_norm = norm_where == "pre_norm"
        self.audio_maps = audio_maps
        self.dropout_p = dropout

        # Construction order of the official MMIL_Net (so that one seed gives the same weights).
        self.fc_prob = nn.Linear(hidden_dim, num_classes)
        self.fc_frame_att = nn.Linear(hidden_dim, num_classes)
        self.fc_av_att = nn.Linear(hidden_dim, num_classes)
        self.fc_a = nn.Linear(audio_dim, hidden_dim)
        self.fc_v = nn.Linear(visual_2d_dim, hidden_dim)
        self.fc_st = nn.Linear(visual_3d_dim, hidden_dim)
        self.fc_fusion = nn.Linear(hidden_dim * 2, hidden_dim)
        self.hat_encoder = Encoder(HANLayer(hidden_dim, nhead, ff_dim, dropout), num_layers, hidden_dim)

    def noise_size(self, batch: int, segments: int = 10) -> int:
        """How many uniform numbers one training forward of `batch` videos of `segments` segments
        (visual_3d's length; with audio maps, not the audio's 64 rows) consumes."""
        return self.hat_encoder.noise_size(batch, segments)

    def forward(
        self, audio: torch.Tensor, visual_2d: torch.Tensor, visual_3d: torch.Tensor,
        noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """noise: the uniform numbers dropout reads in training mode ([noise_size(B, T)]); drawn
        from the global generator when not given. No dropout in eval mode."""
        segments = visual_3d.shape[1]
        size = self.noise_size(audio.shape[0], segments)
        if self.training and size and noise is not None and noise.shape[-1] != size:
            raise ValueError(f"noise of {noise.shape[-1]} numbers for a training forward that uses {size}")
        if self.audio_maps and audio.shape[1] != MAP_ROWS:
            raise ValueError(f"audio feature maps have {MAP_ROWS} rows, got audio of shape {tuple(audio.shape)}")
        drop = tape(self, noise, size, self.dropout_p, audio.device)
        audio, visual_2d, visual_3d = self.standardize(audio, visual_2d, visual_3d)

        if self.audio_maps:
            audio = map_pooling(segments, audio.device, audio.dtype) @ audio  # [B, T, A]
        x1 = self.fc_a(audio)
        vid_s = self.fc_v(segment_means(visual_2d, segments, self.frames_per_segment))
        x2 = self.fc_fusion(torch.cat((vid_s, self.fc_st(visual_3d)), dim=-1))
        x1, x2 = self.hat_encoder(x1, x2, self.pre_norm, drop)
        drop.check_used()

        x = torch.stack((x1, x2), dim=-2)  # [B, T, 2, d]
        frame_logits = self.fc_prob(x)
        return (*pool_frame_logits(frame_logits, x, self.fc_frame_att, self.fc_av_att), frame_logits)

    def frame_logits(self, outputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The frame logits of forward's outputs, which VALOR's loss reads (models.loss_outputs)."""
        return outputs[4]


FAMILY = Family("VALOR", VALOR, frame_means=True)
