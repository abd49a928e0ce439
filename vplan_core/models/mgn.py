"""MGN: the MGN_Net of stoneMo/MGN (Mo & Tian, "Multi-modal Grouping Network for Weakly-Supervised
Audio-Visual Video Parsing", NeurIPS 2022).

Official code: https://github.com/stoneMo/MGN, commit 11be034c3a2ab9c3f7a51328a67c7f0324b07e82
("init release", 2022-12-23): nets/mgn.py (MGN_Net), nets/grouping.py (ModalityTrans, AttnBlock,
GroupingBlock, GroupingBlock_Han, CrossAttnBlock, AssignAttention, Attention, Mlp) and the
training loss of main.py. tests/official/mgn_official.py is a verbatim transcription, the
oracle of tests/test_mgn.py.

Identical to the official module:
  * parameter names and shapes (the official state dict, e.g. its published models/MGN_Net.pt,
    loads with strict load_state_dict: every official parameter is used in forward), the
    modules' construction order, hence the same initialisation from the same seed (trunc-normal
    std 0.02 for every Linear weight, zero biases, LayerNorm 1/0, class tokens zero);
  * the forward math, in train and eval mode, for both assignments of the official flags
    (unimodal_assign, crossmodal_assign: 'soft' or 'hard'):
      - a GroupingBlock with gumbel=True samples Gumbel(0, 1) noise in training (straight-through
        one-hot when hard), and takes a plain softmax / straight-through argmax one-hot
        (hard_softmax) in eval mode; assignment softmax over the group axis (dim -2), then
        attn / (attn.sum(-1) + 1) (assign_eps 1, sum_assign False);
      - the official quirk of the 'soft' frame attention: 1 + softmax_T(softmax_groups(logits)),
        so the frame probabilities (sigmoid × that) lie in [0, 2), not [0, 1]: the official
        evaluation thresholds them at 0.5 as they are, and so does frame_prob here;
      - the HAN-style grouping block of the audio branch (GroupingBlock_Han) has
        hard = gumbel = not unimodal_hard: with the default 'soft' unimodal assignment it is the
        one block with Gumbel noise (a straight-through one-hot in training, hard_softmax in
        eval). It maps the visual sequence's 10 tokens to 10 groups (hard-coded 10 in the
        official code), so MGN needs T = 10 segments.
  * defaults: dim 128, depth_aud 3, depth_vis 3, depth_av 6 (main.py's argparse defaults, also
    its README's training command), 8 heads, mlp_ratio 4, qkv_bias True, drop 0, attn_drop 0,
    drop_path 0.1 in every AttnBlock of the three ModalityTrans (constant, not a linear ramp),
    25 group tokens = classes, unimodal/crossmodal assignment 'soft'.

Randomness (all of it read from the noise tape, models/noise.py), in this order: for visual_cug,
then audio_cug, then av_mcg: each AttnBlock's attention dropout [B,h,L,L] (if attn_drop), proj
dropout [B,L,d], MLP dropouts [B,L,hidden] and [B,L,d] (if drop), stochastic depth of the
attention branch then of the MLP branch [B] each (if drop_path); then that ModalityTrans's
Gumbel noise in training: GroupingBlock_Han [B,1,10,T] (audio_cug, 'soft' unimodal), grouping
[B,1,25,T] ('hard' unimodal) or [B,1,25,25] (av_mcg, 'hard' crossmodal). Gumbel noise is
-log(-log(u')) with u' = tiny + u·(1 - eps - tiny), torch.distributions.Gumbel's own sampling
from the same uniform. The official code draws the same distributions from the global
generator (nn.Dropout, timm's DropPath, Gumbel.sample).

Deviations (none changes a state dict or an output of the official configuration):
  * attention is written out with matmuls (as the official code also does) without einops; the
    2048-d frame features are averaged over each run of frames_per_segment frames before fc_v
    instead of after (fc_v is affine: the same function, as in models/han.py, at 1/8 of the
    cost of the largest product);
  * num_classes replaces the official hard-coded 25 (classes, class tokens and group tokens);
    audio_dim / visual_2d_dim / visual_3d_dim the hard-coded 128 / 2048 / 512;
  * train_gumbel (not in the official code, default True = official): False makes training
    use the eval-mode assignment (no Gumbel noise), so that all randomness can be switched off;
  * standardize_inputs (models/inputs.py, off by default) as in every vplan parser family.

Outputs: (global_prob [B,C], a_prob [B,C], v_prob [B,C], frame_prob [B,T,2,C] (audio, visual),
aud_cls_logits [C,C], vis_cls_logits [C,C]); the last two are fc_cls of the audio and visual class
tokens (the official aud_cls_prob / vis_cls_prob: logits, despite the name), row c the token of
class c; they do not depend on the batch, hence no batch axis (a seed batch gives [S,C,C]).

Official training loss (main.py, train()), nn.BCELoss and nn.CrossEntropyLoss, mean-reduced:
    output, a_prob, v_prob clamped to [1e-7, 1 - 1e-7]
    loss = CE(aud_cls_prob, arange(25)) + CE(vis_cls_prob, arange(25))
         + BCE(output, y) + BCE(a_prob, 1.0·y + 0·0.5) + BCE(v_prob, 0.9·y + 0.1·0.5)
i.e. HAN's loss (method/losses.py han_loss: smoothing_audio 1.0, smoothing_visual 0.9) on the
first four outputs plus mgn_loss_extra(outputs[4:], y), which is the two CE terms.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vplan_core.models.inputs import InputStandardization, segment_means
from vplan_core.models import Family
from vplan_core.models.noise import no_dropout, tape

ASSIGNMENTS = ("soft", "hard")
PROB_FLOOR = 1e-12  # a floor for the divisions of frame_probability (a sigmoid that underflowed to 0)
HAN_TOKENS = 10  # GroupingBlock_Han's num_group_token = num_output_group, hard-coded in the official code


def _drop(drop, x: torch.Tensor, p: float) -> torch.Tensor:
    """Dropout of rate p from the tape; rate 0 is no random site (takes no noise)."""
    return drop(x, p) if p > 0 else x


def _drop_path(drop, x: torch.Tensor, p: float) -> torch.Tensor:
    return drop.drop_path(x, p) if p > 0 else x


@torch.no_grad()
def _trunc_normal_(tensor: torch.Tensor, std: float, a: float = -2.0, b: float = 2.0) -> torch.Tensor:
    """timm's trunc_normal_ (mean 0, absolute bounds [a, b]), the official initialiser: inverse
    normal CDF of a uniform. torch 2.14's nn.init.trunc_normal_ samples differently (rejection),
    which gives other weights from the same seed."""
    def norm_cdf(x: float) -> float:
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    lo, hi = norm_cdf(a / std), norm_cdf(b / std)
    tensor.uniform_(2 * lo - 1, 2 * hi - 1)
    tensor.erfinv_()
    tensor.mul_(std * math.sqrt(2.0))
    return tensor.clamp_(min=a, max=b)


def _straight_through_one_hot(y_soft: torch.Tensor, dim: int) -> torch.Tensor:
    """One-hot of the argmax along dim, with y_soft's gradient (the official hard branch)."""
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = torch.zeros_like(y_soft).scatter(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


class Mlp(nn.Module):
    """grouping.Mlp: fc1, GELU, dropout, fc2, dropout."""

    def __init__(self, in_features: int, hidden_features: int, out_features: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop_p = drop

    def noise_size(self, tokens: int) -> int:
        return tokens * (self.fc1.out_features + self.fc2.out_features) if self.drop_p > 0 else 0

    def forward(self, x: torch.Tensor, drop=no_dropout) -> torch.Tensor:
        x = _drop(drop, F.gelu(self.fc1(x)), self.drop_p)
        return _drop(drop, self.fc2(x), self.drop_p)


class Attention(nn.Module):
    """grouping.Attention: fused qkv (self attention) or separate q/k/v projections (cross)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = False, qk_scale: float | None = None,
                 attn_drop: float = 0.0, proj_drop: float = 0.0, qkv_fuse: bool = False):
        super().__init__()
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.qkv_fuse = qkv_fuse
        if qkv_fuse:
            self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        else:
            self.q_proj = nn.Linear(dim, dim, bias=qkv_bias)
            self.k_proj = nn.Linear(dim, dim, bias=qkv_bias)
            self.v_proj = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop_p, self.proj_drop_p = attn_drop, proj_drop

    def noise_size(self, n: int, s: int) -> int:
        d = self.proj.out_features
        return ((self.num_heads * n * s if self.attn_drop_p > 0 else 0)
                + (n * d if self.proj_drop_p > 0 else 0))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None, drop=no_dropout) -> torch.Tensor:
        b, n, c = query.shape
        if self.qkv_fuse:
            qkv = self.qkv(query).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
        else:
            key = query if key is None else key
            q, k, v = self._heads(self.q_proj(query)), self._heads(self.k_proj(key)), self._heads(self.v_proj(key))
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        attn = _drop(drop, attn, self.attn_drop_p)
        out = (attn @ v).transpose(1, 2).reshape(b, n, c)
        return _drop(drop, self.proj(out), self.proj_drop_p)


class AttnBlock(nn.Module):
    """grouping.AttnBlock: pre-norm self attention and MLP, each with stochastic depth."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = False,
                 qk_scale: float | None = None, drop: float = 0.0, attn_drop: float = 0.0,
                 drop_path: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads=num_heads, qkv_bias=qkv_bias, qk_scale=qk_scale,
                              attn_drop=attn_drop, proj_drop=drop, qkv_fuse=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dim, drop=drop)
        self.drop_path_p = drop_path

    def noise_size(self, batch: int, tokens: int) -> int:
        return (batch * (self.attn.noise_size(tokens, tokens) + self.mlp.noise_size(tokens))
                + (2 * batch if self.drop_path_p > 0 else 0))

    def forward(self, x: torch.Tensor, drop=no_dropout) -> torch.Tensor:
        x = x + _drop_path(drop, self.attn(self.norm1(x), drop=drop), self.drop_path_p)
        return x + _drop_path(drop, self.mlp(self.norm2(x), drop), self.drop_path_p)


class CrossAttnBlock(nn.Module):
    """grouping.CrossAttnBlock with post_norm=True (its only use): no dropout, no drop path."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = False):
        super().__init__()
        self.norm_post = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads=num_heads, qkv_bias=qkv_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dim)

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        x = query + self.attn(query, key)
        x = x + self.mlp(self.norm2(x))
        return self.norm_post(x)


class AssignAttention(nn.Module):
    """grouping.AssignAttention (one head, assign_eps 1, sum_assign False, no dropout).

    The assignment softmax runs over the query (group) axis, dim -2: Gumbel-softmax in training
    when gumbel (tau 1), else softmax; hard: straight-through one-hot of its argmax.
    """

    def __init__(self, dim: int, qkv_bias: bool = False, hard: bool = True, gumbel: bool = False,
                 gumbel_tau: float = 1.0, assign_eps: float = 1.0):
        super().__init__()
        self.scale = dim ** -0.5
        self.q_proj = nn.Linear(dim, dim, bias=qkv_bias)
        self.k_proj = nn.Linear(dim, dim, bias=qkv_bias)
        self.v_proj = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.hard, self.gumbel, self.gumbel_tau, self.assign_eps = hard, gumbel, gumbel_tau, assign_eps

    def uses_noise(self, training: bool) -> bool:
        return self.gumbel and training

    def forward(self, query: torch.Tensor, key: torch.Tensor, drop=no_dropout, use_gumbel: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(out [B,N,C], assignment before normalisation [B,1,N,S] (the official 'hard' map),
        1 + softmax_S(softmax_N(logits)) [B,1,N,S] (the official 'soft' map))."""
        q = self.q_proj(query).unsqueeze(1)
        k = self.k_proj(key).unsqueeze(1)
        v = self.v_proj(key).unsqueeze(1)
        raw_attn = (q @ k.transpose(-2, -1)) * self.scale  # [B, 1, N, S]
        if use_gumbel:
            u = drop.take(tuple(raw_attn.shape)).to(raw_attn.dtype)
            finfo = torch.finfo(raw_attn.dtype)
            u = finfo.tiny + u * (1.0 - finfo.eps - finfo.tiny)  # torch.distributions.Gumbel's support
            y_soft = ((raw_attn - torch.log(-torch.log(u))) / self.gumbel_tau).softmax(dim=-2)
        else:
            y_soft = raw_attn.softmax(dim=-2)
        attn = _straight_through_one_hot(y_soft, -2) if self.hard else y_soft
        soft_attn = 1.0 + F.softmax(raw_attn.softmax(dim=-2), dim=-1)
        hard_attn = attn
        attn = attn / (attn.sum(dim=-1, keepdim=True) + self.assign_eps)
        out = (attn @ v).squeeze(1)
        return self.proj(out), hard_attn, soft_attn


class GroupingBlock(nn.Module):
    """grouping.GroupingBlock and GroupingBlock_Han (the same module): groups x ([B,L,C]) into
    num_output_group tokens made from group_tokens ([B,S1,C]). out_dim = dim (reduction is the
    identity, as in MGN), mlp_ratio (0.5, 4.0)."""

    def __init__(self, dim: int, num_heads: int, num_group_token: int, num_output_group: int,
                 hard: bool = True, gumbel: bool = True):
        super().__init__()
        self.norm_tokens = nn.LayerNorm(dim)
        self.mlp_inter = Mlp(num_group_token, int(0.5 * dim), num_output_group)
        self.norm_post_tokens = nn.LayerNorm(dim)
        self.norm_x = nn.LayerNorm(dim)
        self.pre_assign_attn = CrossAttnBlock(dim, num_heads=num_heads, mlp_ratio=4, qkv_bias=True)
        self.assign = AssignAttention(dim, qkv_bias=True, hard=hard, gumbel=gumbel)
        self.norm_new_x = nn.LayerNorm(dim)
        self.mlp_channels = Mlp(dim, int(4.0 * dim), dim)
        self.num_output_group = num_output_group

    def noise_size(self, batch: int, tokens: int, training: bool) -> int:
        return batch * self.num_output_group * tokens if self.assign.uses_noise(training) else 0

    def forward(self, x: torch.Tensor, group_tokens: torch.Tensor, drop=no_dropout, use_gumbel: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        group_tokens = self.norm_tokens(group_tokens)
        x = self.norm_x(x)
        projected = self.norm_post_tokens(self.mlp_inter(group_tokens.transpose(1, 2)).transpose(1, 2))
        projected = self.pre_assign_attn(projected, x)
        new_x, hard_attn, soft_attn = self.assign(projected, x, drop, use_gumbel)
        new_x = new_x + projected
        return new_x + self.mlp_channels(self.norm_new_x(new_x)), hard_attn, soft_attn


class ModalityTrans(nn.Module):
    """grouping.ModalityTrans: self attention over [x; group tokens], the HAN-style grouping of x
    by the other modality (audio only), then grouping of x into the group tokens."""

    def __init__(self, dim: int, depth: int, num_heads: int, mlp_ratio: float, qkv_bias: bool,
                 qk_scale: float | None, drop: float, attn_drop: float, drop_path: float,
                 num_heads_grouping: int, num_group_tokens: int, num_output_groups: int,
                 hard_assignment: bool, use_han: bool):
        super().__init__()
        self.blocks = nn.ModuleList([
            AttnBlock(dim, num_heads=num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, qk_scale=qk_scale,
                      drop=drop, attn_drop=attn_drop, drop_path=drop_path)
            for _ in range(depth)])
        self.num_group_token = num_group_tokens
        self.han_encoder = (GroupingBlock(dim, num_heads=8, num_group_token=HAN_TOKENS,
                                          num_output_group=HAN_TOKENS, hard=not hard_assignment,
                                          gumbel=not hard_assignment)
                            if use_han else None)
        self.grouping = GroupingBlock(dim, num_heads=num_heads_grouping, num_group_token=num_group_tokens,
                                      num_output_group=num_output_groups, hard=hard_assignment,
                                      gumbel=hard_assignment)

    def noise_size(self, batch: int, tokens: int, training: bool, gumbel: bool) -> int:
        """tokens: the length of x (the group tokens come on top)."""
        n = sum(blk.noise_size(batch, tokens + self.num_group_token) for blk in self.blocks)
        if gumbel and self.han_encoder is not None:
            n += self.han_encoder.noise_size(batch, tokens, training)
        if gumbel:
            n += self.grouping.noise_size(batch, tokens, training)
        return n

    def forward(self, x: torch.Tensor, group_token: torch.Tensor, x_other: torch.Tensor | None = None,
                drop=no_dropout, gumbel: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(grouped x [B,G,C], hard map [B,1,G,L], soft map [B,1,G,L]); gumbel: training with
        Gumbel noise where the block's assignment has it."""
        group_token = group_token.expand(x.shape[0], -1, -1)
        cat_x = torch.cat([x, group_token], dim=1)
        for blk in self.blocks:
            cat_x = blk(cat_x, drop)
        x_attn, group_token = cat_x[:, :-self.num_group_token], cat_x[:, -self.num_group_token:]
        if self.han_encoder is not None and x_other is not None:
            x_attn, _, _ = self.han_encoder(x_attn, x_other, drop, gumbel and self.han_encoder.assign.gumbel)
        return self.grouping(x_attn, group_token, drop, gumbel and self.grouping.assign.gumbel)


class MGN(InputStandardization, nn.Module):
    """MGN_Net: class-aware unimodal grouping of audio and visual, cross-modal grouping.

    forward(audio [B,T,A], visual_2d [B,T*f,D2], visual_3d [B,T,D3]) returns
    (global_prob [B,C], a_prob [B,C], v_prob [B,C], frame_prob [B,T,2,C],
     aud_cls_logits [C,C], vis_cls_logits [C,C]); T must be 10 (see the module docstring).
    """

    def __init__(
        self,
        audio_dim: int = 128,
        visual_2d_dim: int = 2048,
        visual_3d_dim: int = 512,
        num_classes: int = 25,
        frames_per_segment: int = 8,
        dim: int = 128,
        depth_aud: int = 3,
        depth_vis: int = 3,
        depth_av: int = 6,
        num_heads: int = 8,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.1,
        num_heads_grouping: int = 8,
        unimodal_assign: str = "soft",
        crossmodal_assign: str = "soft",
        train_gumbel: bool = True,
        standardize_inputs: bool = False,
    ):
        super().__init__()
        if unimodal_assign not in ASSIGNMENTS or crossmodal_assign not in ASSIGNMENTS:
            raise ValueError(f"assignments must be one of {ASSIGNMENTS}: got {unimodal_assign!r}, {crossmodal_assign!r}")
        self.init_kwargs = dict(
            audio_dim=audio_dim, visual_2d_dim=visual_2d_dim, visual_3d_dim=visual_3d_dim,
            num_classes=num_classes, frames_per_segment=frames_per_segment, dim=dim,
            depth_aud=depth_aud, depth_vis=depth_vis, depth_av=depth_av, num_heads=num_heads,
            mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, qk_scale=qk_scale, drop=drop, attn_drop=attn_drop,
            drop_path=drop_path, num_heads_grouping=num_heads_grouping, unimodal_assign=unimodal_assign,
            crossmodal_assign=crossmodal_assign, train_gumbel=train_gumbel,
            standardize_inputs=standardize_inputs,
        )
        self.init_standardization(standardize_inputs, dict(audio=audio_dim, visual_2d=visual_2d_dim,
                                                           visual_3d=visual_3d_dim))
        self.frames_per_segment = frames_per_segment
        self.unimodal_assign, self.crossmodal_assign = unimodal_assign, crossmodal_assign
        self.train_gumbel = train_gumbel
        self.drop_path_p = drop_path

        # Construction order of the official MGN_Net (so that one seed gives the same weights).
        self.fc_a = nn.Linear(audio_dim, dim)
        self.fc_v = nn.Linear(visual_2d_dim, dim)
        self.fc_st = nn.Linear(visual_3d_dim, dim)
        self.fc_fusion = nn.Linear(dim * 2, dim)
        self.audio_token = nn.Parameter(torch.zeros(num_classes, dim))
        self.visual_token = nn.Parameter(torch.zeros(num_classes, dim))
        unimodal_hard, crossmodal_hard = unimodal_assign == "hard", crossmodal_assign == "hard"

        def modality_trans(depth: int, hard: bool, use_han: bool) -> ModalityTrans:
            return ModalityTrans(dim, depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                                 qk_scale=qk_scale, drop=drop, attn_drop=attn_drop, drop_path=drop_path,
                                 num_heads_grouping=num_heads_grouping, num_group_tokens=num_classes,
                                 num_output_groups=num_classes, hard_assignment=hard, use_han=use_han)

        self.audio_cug = modality_trans(depth_aud, unimodal_hard, use_han=True)
        self.visual_cug = modality_trans(depth_vis, unimodal_hard, use_han=False)
        self.av_mcg = modality_trans(depth_av, crossmodal_hard, use_han=False)
        self.fc_prob = nn.Linear(dim, 1)
        self.fc_prob_a = nn.Linear(dim, 1)
        self.fc_prob_v = nn.Linear(dim, 1)
        self.fc_cls = nn.Linear(dim, num_classes)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            _trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.LayerNorm):
            nn.init.constant_(m.bias, 0)
            nn.init.constant_(m.weight, 1.0)

    def noise_size(self, batch: int, segments: int = 10) -> int:
        """How many uniform numbers one training forward of `batch` videos consumes: stochastic
        depth and dropout of every AttnBlock, and the Gumbel noise of the assignments that have
        it (the audio GroupingBlock_Han with the default 'soft' unimodal assignment)."""
        gumbel = self.train_gumbel
        g = self.audio_token.shape[0]
        return (self.visual_cug.noise_size(batch, segments, True, gumbel)
                + self.audio_cug.noise_size(batch, segments, True, gumbel)
                + self.av_mcg.noise_size(batch, g, True, gumbel))

    def forward(
        self, audio: torch.Tensor, visual_2d: torch.Tensor, visual_3d: torch.Tensor,
        noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """noise: the uniform numbers training reads ([noise_size(B, T)]); drawn from the global
        generator when not given. No randomness in eval mode."""
        audio, visual_2d, visual_3d = self.standardize(audio, visual_2d, visual_3d)
        size = self.noise_size(audio.shape[0], audio.shape[1])
        if self.training and size and noise is not None and noise.shape[-1] != size:
            raise ValueError(f"noise of {noise.shape[-1]} numbers for a training forward that uses {size}")
        drop = tape(self, noise, size, self.drop_path_p, audio.device)
        gumbel = self.training and self.train_gumbel

        x1_0 = self.fc_a(audio)
        # avg_pool2d (8, 1) after fc_v in the official code: the mean over each run of f frames,
        # taken before fc_v here (fc_v is affine: the same function, 1/f of the cost; the
        # trainer may keep only the means on the device, FAMILY.frame_means).
        vid_s = self.fc_v(segment_means(visual_2d, audio.shape[1], self.frames_per_segment))
        vid_st = self.fc_st(visual_3d)
        x2_0 = self.fc_fusion(torch.cat((vid_s, vid_st), dim=-1))

        x2, hard_v, soft_v = self.visual_cug(x2_0, self.visual_token, drop=drop, gumbel=gumbel)
        x1, hard_a, soft_a = self.audio_cug(x1_0, self.audio_token, x2_0, drop=drop, gumbel=gumbel)
        x, _, _ = self.av_mcg(x1, x2, drop=drop, gumbel=gumbel)
        drop.check_used()

        global_prob = torch.sigmoid(self.fc_prob(x)).sum(dim=-1)  # [B, C]
        aud_cls_logits = self.fc_cls(self.audio_token)  # [C, C]
        vis_cls_logits = self.fc_cls(self.visual_token)  # [C, C]
        unimodal_hard = self.unimodal_assign == "hard"
        attn_audio = (hard_a if unimodal_hard else soft_a).squeeze(1)  # [B, C, T]
        attn_visual = (hard_v if unimodal_hard else soft_v).squeeze(1)
        a_prob = torch.sigmoid(self.fc_prob_a(x1))  # [B, C, 1]
        v_prob = torch.sigmoid(self.fc_prob_v(x2))
        a_frame_prob = (a_prob * attn_audio).transpose(1, 2)  # [B, T, C]
        v_frame_prob = (v_prob * attn_visual).transpose(1, 2)
        frame_prob = torch.stack((a_frame_prob, v_frame_prob), dim=2)  # [B, T, 2, C]
        return (global_prob, a_prob.sum(dim=-1), v_prob.sum(dim=-1), frame_prob,
                aud_cls_logits, vis_cls_logits)

    def frame_probability(self, outputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The frame outputs as per-second probabilities [.., T, 2, C], for the losses defined on
        probabilities (the richness-aware loss) and PLD (models.Family: frame outputs).

        With the 'soft' unimodal assignment (the default) a frame output is a class probability
        times a temporal weight, F_tc = p_c·(1 + s_tc), s_tc = softmax_T(...) (p^a for audio, p^v
        for visual): in [0, 2), and never below p_c, so a class MGN holds present cannot be
        absent from any second in F. Read as probabilities, the RL's segment richness
        ŝr = mean_t F = 1.1·p_c reaches a short event's share of seconds only by pushing p_c,
        and every second with it, below the 0.5 threshold. The same decomposition gives a
        probability: p_c·s_tc / max_t s_tc, the class probability at the second MGN attends to
        most and the others in proportion to their weight. Its max over seconds is p_c, as a
        label's video level is the max of its seconds (docs/method.md, Eq. 6-8). The RL still
        reaches p_c through it: the softmax over seconds reads values in (0, 1), so s_tc / max_t
        s_tc ≥ 1/e and a segment richness below p_c/e is met only by lowering p_c
        (docs/studies.md, "MGN and MM-Pyramid in the LLP-shaped world"). With 'hard' assignment
        F = p_c·one-hot already is a probability."""
        if self.unimodal_assign == "hard":
            return outputs[3]
        class_prob = torch.stack(outputs[1:3], dim=-2).unsqueeze(-3)  # [.., 1, 2, C]
        weight = (outputs[3] / class_prob.clamp_min(PROB_FLOOR) - 1.0).clamp_min(0.0)  # s_tc, from F = p·(1 + s)
        return class_prob * weight / weight.amax(dim=-3, keepdim=True).clamp_min(PROB_FLOOR)


def mgn_loss_extra(extras: tuple[torch.Tensor, ...], video_labels: torch.Tensor, *labels) -> torch.Tensor:
    """MGN's class-token terms: CE(aud_cls_logits, arange(C)) + CE(vis_cls_logits, arange(C)),
    each mean-reduced over the C tokens (nn.CrossEntropyLoss of main.py). extras are the
    outputs after the first four, (aud_cls_logits [C,C], vis_cls_logits [C,C]); the labels
    (video labels [B, C], then the row's segment labels, loss config, audio labels: the
    trainer's family-loss interface) are not used by these terms: they teach each class token
    its own class, whatever the row."""
    aud_cls_logits, vis_cls_logits = extras[0], extras[1]

    def ce_diagonal(logits: torch.Tensor) -> torch.Tensor:
        return -torch.log_softmax(logits, dim=-1).diagonal(dim1=-2, dim2=-1).mean()

    return ce_diagonal(aud_cls_logits) + ce_diagonal(vis_cls_logits)


FAMILY = Family(
    "MGN", MGN, extra_loss=mgn_loss_extra, frame_means=True,
    # the paper's Table V, LLP test F %
    paper={"row1_han": (60.8, 55.4, 50.4, 55.5, 57.2, 51.1, 52.4, 44.4, 49.3, 49.1),
           "row2_plg": (60.3, 63.0, 56.4, 59.9, 59.1, 50.5, 61.1, 50.4, 54.0, 49.5),
           "row5_vplan": (59.6, 64.0, 56.9, 60.2, 58.9, 49.8, 61.8, 50.5, 54.0, 49.3)})
