"""Training losses of rows ①-④ (docs/method.md: Eq. 2, Eq. 5, segment BCE, Eq. 6-9), and of rows
⑥-⑦, which add audio segment pseudo labels (CLAP; VALOR and the paper's journal version).

All labels are float tensors: video labels y [B, C], each modality's video labels [B, 2, C]
(audio, visual; where the data set has them: LFAV), segment pseudo labels Ŷ [B, T, C] (visual,
and Ŷ^a for audio). Model outputs are the common parser tuple (p, p^a, p^v, frame_prob
[B, T, 2, C]); P^a = frame_prob[:, :, 0], P^v = frame_prob[:, :, 1]; then, where the family returns
them (models.loss_outputs: VALOR), the frame logits [B, T, 2, C] whose sigmoid frame_prob is.
BCE is mean-reduced binary cross entropy, as nn.BCELoss in the reference, written out so that a
NaN prediction gives a NaN loss (which the trainer reports) instead of F.binary_cross_entropy's
range error, a device-side assert on CUDA.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from vplan_core.method.ablation import CONSTANT_KEYS, LOSS_KINDS

PROB_EPS = 1e-7
AUDIO, VISUAL = 0, 1  # the modality axis of frame_prob
DISTANCES = ("bce", "l1", "mse")

Outputs = tuple[torch.Tensor, ...]  # (p, p^a, p^v, frame_prob) or (p, p^a, p^v, frame_prob, frame_logits)


@dataclass(frozen=True)
class LossConfig:
    """Which loss (a row's kind) and its constants; defaults are docs/method.md's."""

    kind: str = "plg_rl"
    rl_lambda: float = 0.5
    rl_distance: str = "bce"
    rl_eps: float = 1.0e-6
    smoothing_audio: float = 1.0
    smoothing_visual: float = 0.9

    def __post_init__(self) -> None:
        if self.kind not in LOSS_KINDS:
            raise ValueError(f"unknown loss {self.kind!r}; expected one of {tuple(LOSS_KINDS)}")
        if self.rl_distance not in DISTANCES:
            raise ValueError(f"unknown richness distance {self.rl_distance!r}; expected one of {DISTANCES}")

    @property
    def needs_segment_labels(self) -> bool:
        return "visual" in LOSS_KINDS[self.kind].labels

    @property
    def needs_audio_labels(self) -> bool:
        return "audio" in LOSS_KINDS[self.kind].labels

    @property
    def needs_modality_labels(self) -> bool:
        return LOSS_KINDS[self.kind].modality_labels


if {f.name for f in fields(LossConfig)} != {"kind", *CONSTANT_KEYS}:
    raise ValueError(f"LossConfig's constants {sorted(f.name for f in fields(LossConfig) if f.name != 'kind')} "
                     f"are not ablation.CONSTANT_KEYS' {sorted(CONSTANT_KEYS)}")


def clamp_prob(p: torch.Tensor) -> torch.Tensor:
    """Clamp to [1e-7, 1 - 1e-7] as the reference does before BCE."""
    return p.clamp(PROB_EPS, 1.0 - PROB_EPS)


def bce_terms(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """-(y·log p + (1-y)·log(1-p)) per element; callers clamp p away from 0 and 1."""
    return -(y * torch.log(p) + (1.0 - y) * torch.log1p(-p))


def bce(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean-reduced BCE (nn.BCELoss of the reference)."""
    return bce_terms(p, y).mean()


def smooth(y: torch.Tensor, factor: float) -> torch.Tensor:
    """Label smoothing of Eq. 2: factor·y + (1 - factor)·0.5."""
    return factor * y + (1.0 - factor) * 0.5


def han_loss(outputs: Outputs, y: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """Eq. 2: BCE(p, y) + BCE(p^a, ȳ^a) + BCE(p^v, ȳ^v)."""
    p, pa, pv = outputs[:3]
    return (bce(clamp_prob(p), y)
            + bce(clamp_prob(pa), smooth(y, cfg.smoothing_audio))
            + bce(clamp_prob(pv), smooth(y, cfg.smoothing_visual)))


def modality_labels_loss(outputs: Outputs, y: torch.Tensor, modality_labels: torch.Tensor,
                         cfg: LossConfig) -> torch.Tensor:
    """Eq. 2 on each modality's video-level labels (modality_labels [B, 2, C], audio then
    visual) instead of the smoothed union: BCE(p, y) + BCE(p^a, y^a) + BCE(p^v, y^v). The last two
    are LFAV's stage-1 loss with --real_av_labels (GeWu-Lab/LFAV src/tools/train.py:
    criterion(a_prob, target_a) + criterion(v_prob, target_v), no smoothing), on HAN's p^a and
    p^v where the official code has its own model's a_prob and v_prob. BCE(p, y) stays (the
    official stage-1 model has no p), so that the row differs from ①, its control, in the
    targets of p^a and p^v alone: the term also trains the layers that p^a and p^v share with p,
    and HAN's modality attention (fc_av_att) learns from it only."""
    p, pa, pv = outputs[:3]
    return (bce(clamp_prob(p), y) + bce(clamp_prob(pa), modality_labels[:, AUDIO])
            + bce(clamp_prob(pv), modality_labels[:, VISUAL]))


def basic_loss(outputs: Outputs, y: torch.Tensor, seg: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """Eq. 5: the visual target is the video-level pseudo label ŷ^v = max_t Ŷ (no smoothing)."""
    p, pa, pv = outputs[:3]
    yv = seg.amax(dim=1)
    return (bce(clamp_prob(p), y)
            + bce(clamp_prob(pa), smooth(y, cfg.smoothing_audio))
            + bce(clamp_prob(pv), yv))


def category_richness(seg: torch.Tensor) -> torch.Tensor:
    """Eq. 6, CR [B, T]: cr_t = Σ_c Ŷ_tc / Σ_c ŷ^v_c; 0 where undefined (see has_segment_labels)."""
    n_classes = seg.amax(dim=1).sum(dim=-1, keepdim=True)
    return torch.where(n_classes > 0, seg.sum(dim=-1) / n_classes.clamp_min(1.0), 0.0)


def has_segment_labels(seg: torch.Tensor) -> torch.Tensor:
    """[B] bool: videos with at least one segment pseudo label. CR is 0/0 for the others, so they
    have no CR term (masked out of its mean, not given a target of 0 no prediction can reach)."""
    return seg.flatten(1).amax(dim=1) > 0


def segment_richness(seg: torch.Tensor) -> torch.Tensor:
    """Eq. 7, SR [B, C]: sr_c = Σ_t Ŷ_tc / T."""
    return seg.mean(dim=1)


def predicted_richness(frame_v: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The prediction's richness, computed the way the label's is (method.md, Eq. 6-8).

    ĉr_t = Σ_c P^v_tc / Σ_c max_t P^v_tc (the label's video level is its max over segments, so
    the prediction's is too) and ŝr_c = Σ_t P^v_tc / T. Both lie in [0, 1] by construction;
    they are clamped to [ε, 1-ε] for BCE, and the denominator is floored at ε so that a fully
    underflowed P^v gives no 0/0. (Dividing by the attention-pooled p^v instead, a weighted
    mean over segments, lets ĉr exceed 1, and BCE then collapses training.)
    """
    cr = frame_v.sum(dim=-1) / frame_v.amax(dim=1).sum(dim=-1, keepdim=True).clamp_min(eps)
    sr = frame_v.mean(dim=1)
    return cr.clamp(eps, 1.0 - eps), sr.clamp(eps, 1.0 - eps)


def pointwise_distance(pred: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """D of L_RL per element (no reduction): bce, l1 or mse."""
    if kind == "bce":
        return bce_terms(pred, target)
    if kind == "l1":
        return (pred - target).abs()
    if kind == "mse":
        return (pred - target).square()
    raise ValueError(f"unknown richness distance {kind!r}; expected one of {DISTANCES}")


def richness_loss(outputs: Outputs, seg: torch.Tensor, cfg: LossConfig, modality: int = VISUAL,
                  videos: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 8: L_RL = D(ĉr, CR) + D(ŝr, SR) (richness_terms). modality: VISUAL (P^v against Ŷ,
    the paper's) or AUDIO (P^a against Ŷ^a, computed exactly the same way). videos: [B] bool,
    the videos the loss is taken over; None: every video."""
    cr_loss, sr_loss = richness_terms(outputs, seg, cfg, modality, videos)
    return cr_loss + sr_loss


def richness_terms(outputs: Outputs, seg: torch.Tensor, cfg: LossConfig, modality: int = VISUAL,
                   videos: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """L_RL's two terms, D(ĉr, CR) and D(ŝr, SR), each mean-reduced (the studies weigh them
    apart); the CR mean runs over the segments of videos that have pseudo labels only, both
    means over `videos` only when it is given."""
    cr_hat, sr_hat = predicted_richness(outputs[3][:, :, modality, :], cfg.rl_eps)
    cr_terms = pointwise_distance(cr_hat, category_richness(seg), cfg.rl_distance)
    sr_terms = pointwise_distance(sr_hat, segment_richness(seg), cfg.rl_distance)
    labelled = has_segment_labels(seg) if videos is None else has_segment_labels(seg) & videos
    cr_loss = _masked_mean(cr_terms, labelled[:, None].expand_as(cr_terms))
    sr_loss = sr_terms.mean() if videos is None else _masked_mean(sr_terms, videos[:, None].expand_as(sr_terms))
    return cr_loss, sr_loss


def _masked_mean(terms: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of terms where mask holds; 0 where it holds nowhere."""
    return torch.where(mask, terms, 0.0).sum() / mask.sum().clamp_min(1)


def silent_seconds(seg: torch.Tensor) -> torch.Tensor:
    """[B, T, C] bool: the seconds in which segment labels mark a class of their video level
    silent. The video label copied to every second has none: this is what segment labels say
    beyond the video label."""
    return (seg.amax(dim=1, keepdim=True) > 0) & (seg == 0)


def silence_loss(frame: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
    """BCE(P, 0) on the silent seconds (silent_seconds), 0 elsewhere, mean over every element
    (as a segment BCE with the other elements weighted 0)."""
    return torch.where(silent_seconds(seg), -torch.log1p(-clamp_prob(frame)), 0.0).mean()


def audio_visual_loss(outputs: Outputs, video_labels: torch.Tensor, seg: torch.Tensor, audio_seg: torch.Tensor,
                      cfg: LossConfig) -> torch.Tensor:
    """Row ⑥ as first built (kept as row6_plg_av_rl): Eq. 5 with the audio target the audio
    pseudo label too (ŷ^a = max_t Ŷ^a), plus λ·L_RL on both modalities (the audio CR/SR from P^a
    against Ŷ^a, as the visual ones). Copied to every second, a video label makes the audio CR
    1 everywhere: "every class sounds in every second", which the RL then trains (docs/studies.md)."""
    p, pa, pv = outputs[:3]
    loss = (bce(clamp_prob(p), video_labels) + bce(clamp_prob(pa), audio_seg.amax(dim=1))
            + bce(clamp_prob(pv), seg.amax(dim=1)))
    return loss + cfg.rl_lambda * (richness_loss(outputs, seg, cfg, VISUAL) + richness_loss(outputs, audio_seg, cfg, AUDIO))


def audio_visual_temporal_loss(outputs: Outputs, video_labels: torch.Tensor, seg: torch.Tensor,
                               audio_seg: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """Rows ⑥-⑦: row ④'s loss with the audio labels read only for what they say beyond a video
    label. p^a's target is their video level max_t Ŷ^a; λ·BCE(P^a, 0) on the seconds they mark
    a class silent (silence_loss); λ·L_RL on P^a over the videos that have such seconds. A video
    whose audio labels span the clip for every class (the video label's own claim, which holds
    for 41% of LLP's audio events) adds only its video-level target: with the video label as
    audio labels the loss is row ④'s exactly. (docs/studies.md, "The audio rows' loss".)"""
    p, pa, pv, frame = outputs[:4]
    temporal = silent_seconds(audio_seg).flatten(1).any(dim=1)
    audio = silence_loss(frame[:, :, AUDIO, :], audio_seg) + richness_loss(outputs, audio_seg, cfg, AUDIO, temporal)
    return (bce(clamp_prob(p), video_labels) + bce(clamp_prob(pa), audio_seg.amax(dim=1))
            + bce(clamp_prob(pv), seg.amax(dim=1)) + cfg.rl_lambda * (richness_loss(outputs, seg, cfg) + audio))


def segment_bce_loss(outputs: Outputs, y: torch.Tensor, seg: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """Row ③: Eq. 5 plus λ·BCE(P^v, Ŷ) on every segment."""
    return basic_loss(outputs, y, seg, cfg) + cfg.rl_lambda * bce(clamp_prob(outputs[3][:, :, VISUAL, :]), seg)


def richness_aware_loss(outputs: Outputs, y: torch.Tensor, seg: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """Row ④, Eq. 9: Eq. 5 plus λ·L_RL."""
    return basic_loss(outputs, y, seg, cfg) + cfg.rl_lambda * richness_loss(outputs, seg, cfg)


def valor_loss(outputs: Outputs, video_labels: torch.Tensor, seg: torch.Tensor, audio_seg: torch.Tensor,
               cfg: LossConfig) -> torch.Tensor:
    """VALOR's loss (Franklin905/VALOR, main_avvp.py train(): loss_video + loss_valor_a +
    loss_valor_v): BCE(p, y) plus BCE of every second's audio frame output against Ŷ^a and visual
    one against Ŷ^v, and no video-level modality terms. Where outputs carry frame logits (VALOR)
    the segment terms are taken on them, binary_cross_entropy_with_logits as the official code;
    a family without them (HAN, MGN, MM-Pyramid) has them on P clamped to [1e-7, 1 - 1e-7], as
    its other terms. The two agree only while float32 resolves the sigmoid: it holds 1 - σ(x) to
    about 6e-8, so a term's value drifts by up to ~3e-8·e^|x| (1e-3 at |logit| 10, 0.3 at 16);
    past the clamp (|logit| above 15.5 to 16.1, by sign) the probability form's gradient is 0, so a
    confident mistake (a target 0 at logit 17) is not corrected, where with logits its gradient is
    σ(x) - y."""
    p, _, _, frame_prob = outputs[:4]
    if len(outputs) > 4:
        logits = outputs[4]
        return (bce(clamp_prob(p), video_labels)
                + F.binary_cross_entropy_with_logits(logits[:, :, AUDIO, :], audio_seg)
                + F.binary_cross_entropy_with_logits(logits[:, :, VISUAL, :], seg))
    return (bce(clamp_prob(p), video_labels) + bce(clamp_prob(frame_prob[:, :, AUDIO, :]), audio_seg)
            + bce(clamp_prob(frame_prob[:, :, VISUAL, :]), seg))


def compute_loss(outputs: Outputs, video_labels: torch.Tensor, segment_labels: torch.Tensor | None,
                 cfg: LossConfig, audio_labels: torch.Tensor | None = None,
                 modality_labels: torch.Tensor | None = None) -> torch.Tensor:
    """The trainer's one entry point: the loss of cfg.kind on the labels it reads (each
    modality's video-level labels [B, 2, C] where LossKind.modality_labels says so, the segment
    labels of its modalities)."""
    given = {"visual": segment_labels, "audio": audio_labels}
    labels = [given[modality] for modality in LOSS_KINDS[cfg.kind].labels]
    missing = [m for m, value in zip(LOSS_KINDS[cfg.kind].labels, labels) if value is None]
    if missing:
        raise ValueError(f"loss {cfg.kind!r} needs {' and '.join(missing)} segment pseudo labels")
    if cfg.needs_modality_labels:
        if modality_labels is None:
            raise ValueError(f"loss {cfg.kind!r} needs each modality's video-level labels")
        labels.insert(0, modality_labels)
    function = LOSS_KINDS[cfg.kind].function
    return (globals()[function] if isinstance(function, str) else function)(outputs, video_labels, *labels, cfg)
