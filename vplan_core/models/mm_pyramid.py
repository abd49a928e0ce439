"""MM-Pyramid: the AVVP network of Yu et al., ACM MM 2022 ("MM-Pyramid: Multimodal Pyramid
Attentional Network for Audio-Visual Event Localization and Video Parsing").

Official code: https://github.com/JustinYuu/MM_Pyramid, commit 1c641a5f3302345a40adbc721b555d17e773f560
(HEAD when fetched; 2022-08-26), `AVVPNet` of main_network.py with the modules of nets/MPAM.py
(multimodal pyramid attentional module: semantic capture + semantic fusion) and
nets/Transformer.py (attention blocks). A transcription of it is tests/official/mm_pyramid_official.py.

What is identical
-----------------
* Forward math: fc_a / fc_v + 8-frame average / fc_st / fc_fusion; per pyramid level an
  IntegrateAttentionBlock (visual self-attention, audio self-attention, one shared cross-modal
  attention layer used in both directions, sigmoid gates lv1/lv2/la1/la2) whose attention is
  restricted to the band |i - j| <= 2**level (the official mask, masked_fill -1e9), then a
  dilated TemporalBlock per modality (Conv1d k=3, dilation 2**level, ReLU, Conv1d 1x1, residual,
  ReLU); the fusion module's self-attention over the levels of each segment, a sigmoid weight
  per level and the weighted sum; then HAN's attentive MMIL pooling. Pre-norm transformer
  layers (x + dropout(sublayer(LayerNorm(x)))); keys and values are not normalised, as there.
* Parameter names: the official state dict loads with load_state_dict(strict=False); the only
  keys left over (unexpected) are ones the official forward never reads:
    - `*.conv1.*`, `*.conv2.*` of every TemporalBlock: the official block registers the same two
      Conv1d modules twice, as conv1/conv2 and inside `net` (net.0/net.2), and calls only `net`;
      its state dict therefore holds every tensor twice (equal values). We keep `net`.
    - `MMP.capture.multiheadattn.*`, `MMP.capture.feedforward.*`, `MMP.fusion.multiheadattn.*`,
      `MMP.fusion.feedforward.*`: templates the official __init__ deep-copies into the layers;
      never called.
    - `*.self_attn.layer_norm.*`: MultiHeadAttention's LayerNorm, never applied.
  Nothing is missing.
* Initialisation: modules are built in the official order, templates included (built, copied,
  then dropped), so under the same torch seed the initial weights equal the official ones,
  quirks included: the 4 linears (q, k, v, out) of each MultiHeadAttention start equal (the
  official `clones` deep-copies one nn.Linear), every feed-forward of the capture module starts
  as one template, and the fusion module's visual and audio layers start equal.
* Defaults: the official main_avvp.py (--levels 4, --hid_dim 512, --ffn_dim 512, --head 8) and
  the module defaults it leaves alone (neither CLI nor AVVPNet options): dropout 0.2 (residual
  and feed-forward dropout, MultimodalPyramidAttentionalModule's default), attention-probability
  dropout 0.1 (MultiHeadAttention's default) and TCN kernel size 3 (fixed here: with the official
  padding = dilation only 3 keeps the length T). There is no
  BatchNorm anywhere (nets/MPAM.py imports weight_norm but never uses it), so vmap over seeds
  needs no special treatment of running statistics.
* Loss: main_avvp.py trains with exactly HAN's loss, BCE(p, y) + BCE(p^a, y) + BCE(p^v,
  0.9 y + 0.05), probabilities clamped to [1e-7, 1 - 1e-7] (vplan's han_loss with
  smoothing_audio 1.0, smoothing_visual 0.9), so the forward returns the four HAN outputs and
  no extras.

Modality order (the `official_modality_order` flag)
---------------------------------------------------
The official forward runs `v_o, a_o = self.MMP(f_v, f_a)` (v_o: the stream whose queries,
self-attention and TCN start from the visual features; a_o: from the audio features), then
`x = torch.cat([v_o, a_o], dim=-2)`, and reads index 0 as audio and index 1 as visual everywhere
after: a_prob = temporal_prob[:, :, 0] (trained against the audio target, label smoothing 1.0,
and evaluated as the audio prediction Pa = frame_prob[:, :, 0]), v_prob = temporal_prob[:, :, 1]
(visual target, smoothing 0.9, evaluated as visual). So in the official run the stream built on
the visual features is trained and evaluated as the audio branch, and the audio-feature stream as
the visual branch. The code is self-consistent (training and evaluation agree), and the
streams can still exchange content, since each level's gate mixes in cross-modal attention whose
values are the other modality, so the network can still fit. But the roles are swapped against
the names.

* official_modality_order=True reproduces the official outputs exactly: frame_prob[..., 0, :]
  (and a_prob, the audio loss) come from the visual-feature stream, frame_prob[..., 1, :]
  (v_prob, the visual loss, and in vplan the visual pseudo labels of PLG/PLD and the richness
  loss) from the audio-feature stream. Use it to load and evaluate a checkpoint trained by the
  official code.
* official_modality_order=False (default) stacks [a_o, v_o]: the audio-feature stream gives
  frame_prob[..., 0, :] / a_prob and receives the audio loss, the visual-feature stream gives
  frame_prob[..., 1, :] / v_prob and receives the visual loss. For the same weights this only
  swaps index 0 and 1 of frame_prob and exchanges a_prob with v_prob; global_prob is unchanged
  (the MMIL pooling is symmetric in the two entries).

Why the default is False: vplan's contribution is supervision of the visual branch
(frame_prob[..., 1, :]) by segment-level visual pseudo labels from CLIP on the frames; those labels
should train the stream that carries the visual features on its residual path, not the
audio-feature stream. It also keeps the index convention of HAN (x1 = audio stream at index 0),
so that a HAN vs MM-Pyramid comparison does not mix an architecture change with a swap of the
branches. Published MM-Pyramid figures were obtained with the official (swapped) order; a
faithful rerun of the paper's recipe sets the flag.

Deviations (none changes a forward output beyond float rounding)
----------------------------------------------------------------
* Dimensions are parameters: the official AVVPNet hard-codes 512 for its fc layers (it only works
  with --hid_dim 512), 25 classes, 128/2048/512 input dims, 8 frames per segment and, in the fusion
  module, 10 segments (`.view(-1, 10, ...)`); here hidden_dim, num_classes, the input dims,
  frames_per_segment and the input's T. The TCN widths are hidden_dim at every level (the official
  n_channels = [hid_dim] * levels; other widths break its attention blocks), so the TemporalBlock
  `downsample` conv (only built when widths differ) never exists.
* The 8-frame average is taken before fc_v instead of after (fc_v is affine: same function, 1/8
  of the largest matrix product), as in vplan's HAN.
* Dropout reads vplan's noise tape (models/noise.py) instead of nn.Dropout, in the official order of
  the dropout sites; a site whose p is 0 draws nothing. The attention band mask is built from
  aranges (no Python loop over rows), once per length, band and device (band_outside), and the
  fusion module's bmm with the level weights reads T from the input. The forward is vmappable
  (models/seed_batch.py).
* Each level's TCN output is made contiguous before the next level's attention reads it. Under
  the seed batch's vmap a Linear fed the transposed view broadcasts its weight to every video (a
  [S, B, d, d] copy) and forms per-video weight gradients in backward; contiguous, it is one
  [S, B·T, d] product. Same function; a CPU epoch of 3 batched seeds in 0.54x the time, of one
  seed in 0.79x (bench_family_epochs.py; bench/results/mm-pyramid-contiguous-2026-12-06/).
"""
from __future__ import annotations

import copy
import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from vplan_core.models.inputs import InputStandardization, segment_means
from vplan_core.models import Family
from vplan_core.models.noise import no_dropout, tape
from vplan_core.models.pooling import attentive_mmil

OFFICIAL_REPO = "JustinYuu/MM_Pyramid"
OFFICIAL_COMMIT = "1c641a5f3302345a40adbc721b555d17e773f560"
KERNEL_SIZE = 3  # AVVPNet never passes MMP's kernel_size; its padding (= dilation) keeps T only for 3


def _dropout(drop, x: torch.Tensor, p: float) -> torch.Tensor:
    """drop(x, p), or x itself (no noise read) when the site's p is 0."""
    return x if p == 0 else drop(x, p)


def _site(numel: int, p: float) -> int:
    """Noise numbers a dropout site of numel elements reads."""
    return numel if p > 0 else 0


@functools.cache
def band_outside(t_q: int, t_kv: int, window: int, device: torch.device) -> torch.Tensor:
    """[t_q, t_kv] bool, True where |i - j| > window: the keys a query may not see. Built once per
    shape and device (every attention call of every level and step asks for one of a few), not
    from aranges at every call. A compiled step traces through the cache (dynamo's warning says
    so): its shapes are static, so the mask is a constant of the graph there."""
    rows = torch.arange(t_q, device=device)
    cols = torch.arange(t_kv, device=device)
    return (rows[:, None] - cols[None, :]).abs() > window


class MultiHeadAttention(nn.Module):
    """nets/Transformer.py MultiHeadAttention: linears.0-2 project q, k, v, linears.3 the output;
    masksize != 1 limits query i to keys j with |i - j| <= masksize // 2. Its unused layer_norm is
    left out."""

    def __init__(self, h: int, d_model: int, masksize: int = 1, dropout: float = 0.1):
        super().__init__()
        assert d_model % h == 0
        self.d_k = d_model // h
        self.h = h
        linear = nn.Linear(d_model, d_model)  # one init, copied 4 times, as the official clones()
        self.linears = nn.ModuleList([copy.deepcopy(linear) for _ in range(4)])
        self.masksize = masksize
        self.p = dropout

    def noise_size(self, n: int, t_q: int, t_kv: int) -> int:
        return _site(n * self.h * t_q * t_kv, self.p)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, drop=no_dropout) -> torch.Tensor:
        n = query.shape[0]
        q, k, v = [lin(x).reshape(n, -1, self.h, self.d_k).transpose(1, 2)
                   for lin, x in zip(self.linears, (query, key, value))]
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d_k)
        if self.masksize != 1:
            outside = band_outside(scores.shape[-2], scores.shape[-1], int(self.masksize / 2), scores.device)
            scores = scores.masked_fill(outside, -1e9)
        p_attn = _dropout(drop, F.softmax(scores, dim=-1), self.p)
        x = torch.matmul(p_attn, v).transpose(1, 2).reshape(n, -1, self.h * self.d_k)
        return self.linears[-1](x)


class PositionwiseFeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.1):
        super().__init__()
        self.w_1 = nn.Linear(d_model, d_ff)
        self.w_2 = nn.Linear(d_ff, d_model)
        self.p = dropout

    def noise_size(self, n: int, t: int) -> int:
        return _site(n * t * self.w_1.out_features, self.p)

    def forward(self, x: torch.Tensor, drop=no_dropout) -> torch.Tensor:
        return self.w_2(_dropout(drop, F.relu(self.w_1(x)), self.p))


class SublayerConnection(nn.Module):
    """Holds the pre-norm of x + dropout(sublayer(norm(x))) (the dropout is the layer's)."""

    def __init__(self, size: int):
        super().__init__()
        self.norm = nn.LayerNorm(size)


class TransformerLayer(nn.Module):
    """Pre-norm attention layer: q attends to (k, v), both un-normalised, then a feed-forward."""

    def __init__(self, size: int, self_attn: MultiHeadAttention, feed_forward: PositionwiseFeedForward,
                 dropout: float):
        super().__init__()
        self.self_attn = self_attn
        self.feed_forward = feed_forward
        self.sublayer = nn.ModuleList([SublayerConnection(size) for _ in range(2)])
        self.size = size
        self.p = dropout

    def noise_size(self, n: int, t_q: int, t_kv: int) -> int:
        return (self.self_attn.noise_size(n, t_q, t_kv) + 2 * _site(n * t_q * self.size, self.p)
                + self.feed_forward.noise_size(n, t_q))

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, drop=no_dropout) -> torch.Tensor:
        q = q + _dropout(drop, self.self_attn(self.sublayer[0].norm(q), k, v, drop), self.p)
        return q + _dropout(drop, self.feed_forward(self.sublayer[1].norm(q), drop), self.p)


class SelfAttentionBlock(nn.Module):
    def __init__(self, attention_layer: TransformerLayer):
        super().__init__()
        self.layer = attention_layer

    def forward(self, feature: torch.Tensor, drop=no_dropout) -> torch.Tensor:
        return self.layer(feature, feature, feature, drop)


class CrossAttentionBlock(nn.Module):
    """One layer, both directions: video attends to audio, audio to video."""

    def __init__(self, attention_layer: TransformerLayer):
        super().__init__()
        self.layer = attention_layer

    def forward(self, video: torch.Tensor, audio: torch.Tensor, drop=no_dropout):
        return self.layer(video, audio, audio, drop), self.layer(audio, video, video, drop)


class IntegrateAttentionBlock(nn.Module):
    """Self- and cross-modal attention of each modality, mixed by two sigmoid gates."""

    def __init__(self, vselfattention_layer, aselfattention_layer, crossattention_layer, num_inputs: int):
        super().__init__()
        self.vsablock = SelfAttentionBlock(vselfattention_layer)
        self.asablock = SelfAttentionBlock(aselfattention_layer)
        self.cmablock = CrossAttentionBlock(crossattention_layer)
        self.lv1 = nn.Linear(num_inputs * 2, num_inputs)
        self.lv2 = nn.Linear(num_inputs * 2, num_inputs)
        self.la1 = nn.Linear(num_inputs * 2, num_inputs)
        self.la2 = nn.Linear(num_inputs * 2, num_inputs)

    def noise_size(self, n: int, t: int) -> int:
        return (self.vsablock.layer.noise_size(n, t, t) + self.asablock.layer.noise_size(n, t, t)
                + 2 * self.cmablock.layer.noise_size(n, t, t))

    def forward(self, video: torch.Tensor, audio: torch.Tensor, drop=no_dropout):
        v_sa = self.vsablock(video, drop)
        a_sa = self.asablock(audio, drop)
        v_cma, a_cma = self.cmablock(video, audio, drop)
        v_sq = torch.cat((v_sa, v_cma), -1)
        v_out = torch.sigmoid(self.lv1(v_sq)) * v_sa + torch.sigmoid(self.lv2(v_sq)) * v_cma
        a_sq = torch.cat((a_sa, a_cma), -1)
        a_out = torch.sigmoid(self.la1(a_sq)) * a_sa + torch.sigmoid(self.la2(a_sq)) * a_cma
        return v_out, a_out


class TemporalBlock(nn.Module):
    """relu(net(x) + x), net = dilated Conv1d (k, padding = dilation), ReLU, Conv1d 1x1; x [N, C, T].
    The official block also registers net.0 / net.2 as conv1 / conv2 (same modules); only `net` is
    kept here."""

    def __init__(self, channels: int, kernel_size: int, dilation: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(channels, channels, kernel_size, stride=1, padding=dilation, dilation=dilation),
            nn.ReLU(),
            nn.Conv1d(channels, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.net(x) + x)


class SemanticCaptureModule(nn.Module):
    """The pyramid: level i attends within a band of 2**i segments, then a TCN of dilation 2**i."""

    def __init__(self, num_inputs: int, ffn_dim: int, levels: int, kernel_size: int = 3,
                 dropout: float = 0.2, nhead: int = 8, attn_dropout: float = 0.1):
        super().__init__()
        c = copy.deepcopy
        MultiHeadAttention(nhead, num_inputs, dropout=attn_dropout)  # the official unused template (init order)
        feedforward = PositionwiseFeedForward(num_inputs, ffn_dim, dropout=dropout)  # template, copied
        v_layers, a_layers, msa_layers = [], [], []
        for i in range(levels):
            dilation = 2 ** i
            v_layers.append(TemporalBlock(num_inputs, kernel_size, dilation))
            a_layers.append(TemporalBlock(num_inputs, kernel_size, dilation))
            msa_layers.append(IntegrateAttentionBlock(
                *(TransformerLayer(num_inputs, MultiHeadAttention(nhead, num_inputs, masksize=dilation * 2,
                                                                  dropout=attn_dropout),
                                   c(feedforward), dropout) for _ in range(3)),
                num_inputs))
        self.vnetwork = nn.Sequential(*v_layers)
        self.anetwork = nn.Sequential(*a_layers)
        self.msa = nn.Sequential(*msa_layers)

    def noise_size(self, batch: int, segments: int) -> int:
        return sum(block.noise_size(batch, segments) for block in self.msa)

    def forward(self, v: torch.Tensor, a: torch.Tensor, drop=no_dropout):
        """v, a [B, T, d] -> every level's outputs [B*T, levels, d] of each modality."""
        v_stages, a_stages = [], []
        v_stage, a_stage = v, a
        for msa, v_tcn, a_tcn in zip(self.msa, self.vnetwork, self.anetwork):
            v_msa, a_msa = msa(v_stage, a_stage, drop)
            v_stage = v_tcn(v_msa.transpose(1, 2)).transpose(1, 2).contiguous()
            a_stage = a_tcn(a_msa.transpose(1, 2)).transpose(1, 2).contiguous()
            v_stages.append(v_stage)
            a_stages.append(a_stage)
        v_stage = torch.stack(v_stages, dim=2)  # [B, T, levels, d]
        a_stage = torch.stack(a_stages, dim=2)
        return (v_stage.reshape(-1, v_stage.shape[2], v_stage.shape[3]),
                a_stage.reshape(-1, a_stage.shape[2], a_stage.shape[3]))


class SemanticFusionModule(nn.Module):
    """Per segment: self-attention over the levels, a sigmoid weight per level, weighted sum."""

    def __init__(self, num_inputs: int, ffn_dim: int, dropout: float = 0.2, nhead: int = 8,
                 attn_dropout: float = 0.1):
        super().__init__()
        c = copy.deepcopy
        self.num_inputs = num_inputs
        multiheadattn = MultiHeadAttention(nhead, num_inputs, dropout=attn_dropout)  # templates, copied
        feedforward = PositionwiseFeedForward(num_inputs, ffn_dim, dropout=dropout)
        self.vadaptiveinteraction = TransformerLayer(num_inputs, c(multiheadattn), c(feedforward), dropout)
        self.aadaptiveinteraction = TransformerLayer(num_inputs, c(multiheadattn), c(feedforward), dropout)
        self.vselectfusion = nn.Linear(num_inputs, 1)
        self.aselectfusion = nn.Linear(num_inputs, 1)

    def noise_size(self, batch: int, segments: int, levels: int) -> int:
        return (self.vadaptiveinteraction.noise_size(batch * segments, levels, levels)
                + self.aadaptiveinteraction.noise_size(batch * segments, levels, levels))

    def forward(self, v_stage: torch.Tensor, a_stage: torch.Tensor, segments: int, drop=no_dropout):
        """[B*T, levels, d] each -> [B, T, d] each."""
        v_interact = self.vadaptiveinteraction(v_stage, v_stage, v_stage, drop)
        a_interact = self.aadaptiveinteraction(a_stage, a_stage, a_stage, drop)
        v_weight = torch.sigmoid(self.vselectfusion(v_interact))  # [B*T, levels, 1]
        a_weight = torch.sigmoid(self.aselectfusion(a_interact))
        v_out = torch.matmul(v_interact.transpose(1, 2), v_weight).reshape(-1, segments, self.num_inputs)
        a_out = torch.matmul(a_interact.transpose(1, 2), a_weight).reshape(-1, segments, self.num_inputs)
        return v_out, a_out


class MultimodalPyramidAttentionalModule(nn.Module):
    def __init__(self, num_inputs: int, ffn_dim: int, levels: int, kernel_size: int = 3,
                 dropout: float = 0.2, nhead: int = 8, attn_dropout: float = 0.1):
        super().__init__()
        self.capture = SemanticCaptureModule(num_inputs, ffn_dim, levels, kernel_size, dropout, nhead, attn_dropout)
        self.fusion = SemanticFusionModule(num_inputs, ffn_dim, dropout, nhead, attn_dropout)

    def noise_size(self, batch: int, segments: int) -> int:
        return (self.capture.noise_size(batch, segments)
                + self.fusion.noise_size(batch, segments, len(self.capture.msa)))

    def forward(self, video: torch.Tensor, audio: torch.Tensor, drop=no_dropout):
        """video, audio [B, T, d] -> (visual-stream output, audio-stream output), [B, T, d] each."""
        v_cap, a_cap = self.capture(video, audio, drop)
        return self.fusion(v_cap, a_cap, video.shape[1], drop)


class MMPyramid(InputStandardization, nn.Module):
    """MM-Pyramid's AVVPNet with vplan's interface (see the module docstring).

    forward(audio [B,T,A], visual_2d [B,T*f,D2], visual_3d [B,T,D3]) returns
    (global_prob [B,C], a_prob [B,C], v_prob [B,C], frame_prob [B,T,2,C]); frame_prob[..., 0, :]
    is the audio prediction, [..., 1, :] the visual one (which stream feeds which: see
    official_modality_order in the module docstring).
    """

    def __init__(
        self,
        audio_dim: int = 128,
        visual_2d_dim: int = 2048,
        visual_3d_dim: int = 512,
        num_classes: int = 25,
        frames_per_segment: int = 8,
        hidden_dim: int = 512,
        ffn_dim: int = 512,
        levels: int = 4,
        nhead: int = 8,
        dropout: float = 0.2,
        attn_dropout: float = 0.1,
        official_modality_order: bool = False,
        standardize_inputs: bool = False,
    ):
        super().__init__()
        self.init_kwargs = dict(
            audio_dim=audio_dim, visual_2d_dim=visual_2d_dim, visual_3d_dim=visual_3d_dim,
            num_classes=num_classes, frames_per_segment=frames_per_segment, hidden_dim=hidden_dim,
            ffn_dim=ffn_dim, levels=levels, nhead=nhead, dropout=dropout,
            attn_dropout=attn_dropout, official_modality_order=official_modality_order,
            standardize_inputs=standardize_inputs,
        )
        self.init_standardization(standardize_inputs, dict(audio=audio_dim, visual_2d=visual_2d_dim,
                                                           visual_3d=visual_3d_dim))
        self.frames_per_segment = frames_per_segment
        self.dropout_p = dropout
        self.official_modality_order = official_modality_order
        self.fc_prob = nn.Linear(hidden_dim, num_classes)
        self.fc_frame_att = nn.Linear(hidden_dim, num_classes)
        self.fc_av_att = nn.Linear(hidden_dim, num_classes)
        self.fc_a = nn.Linear(audio_dim, hidden_dim)
        self.fc_v = nn.Linear(visual_2d_dim, hidden_dim)
        self.fc_st = nn.Linear(visual_3d_dim, hidden_dim)
        self.fc_fusion = nn.Linear(2 * hidden_dim, hidden_dim)
        self.MMP = MultimodalPyramidAttentionalModule(hidden_dim, ffn_dim, levels, KERNEL_SIZE, dropout,
                                                      nhead, attn_dropout)

    def noise_size(self, batch: int, segments: int = 10) -> int:
        """How many uniform numbers one training forward of `batch` videos of `segments`
        segments consumes (0 when every dropout probability is 0)."""
        return self.MMP.noise_size(batch, segments)

    def forward(
        self, audio: torch.Tensor, visual_2d: torch.Tensor, visual_3d: torch.Tensor,
        noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """noise: the uniform numbers dropout reads in training mode ([noise_size(B, T)]); drawn
        from the global generator when not given. No dropout in eval mode."""
        audio, visual_2d, visual_3d = self.standardize(audio, visual_2d, visual_3d)
        b, t = audio.shape[0], audio.shape[1]
        size = self.noise_size(b, t)
        if self.training and noise is not None and noise.shape[-1] != size:
            raise ValueError(f"dropout noise of {noise.shape[-1]} numbers for a forward of "
                             f"{b} videos x {t} segments that uses {size}")
        drop = tape(self, noise, size, self.dropout_p, audio.device)

        f_a = self.fc_a(audio)
        # avg_pool2d (8, 1) after fc_v in the official code: the mean of each run of f frames,
        # taken first here (fc_v is affine; the trainer may keep only the means, FAMILY.frame_means).
        vid_s = self.fc_v(segment_means(visual_2d, t, self.frames_per_segment))
        f_v = self.fc_fusion(torch.cat((vid_s, self.fc_st(visual_3d)), dim=-1))
        v_o, a_o = self.MMP(f_v, f_a, drop)
        drop.check_used()

        # official: [v_o, a_o], index 0 read as audio; default: [a_o, v_o] (module docstring).
        first, second = (v_o, a_o) if self.official_modality_order else (a_o, v_o)
        x = torch.stack((first, second), dim=-2)  # [B, T, 2, d]
        return attentive_mmil(x, self.fc_prob, self.fc_frame_att, self.fc_av_att)


FAMILY = Family(
    "MM-Pyramid", MMPyramid, frame_means=True,
    # the paper's Table V (its rerun of MM-Pyramid), LLP test F %
    paper={"row1_han": (60.5, 52.3, 48.1, 53.6, 57.5, 51.5, 48.3, 42.5, 47.4, 48.5),
           "row2_plg": (59.8, 63.9, 57.3, 60.3, 59.1, 50.0, 60.3, 50.2, 53.5, 48.6),
           "row5_vplan": (60.1, 64.8, 58.0, 61.0, 59.5, 51.4, 60.7, 50.7, 54.2, 49.7)})
