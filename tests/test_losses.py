"""Losses of rows ①-④ against hand computations (docs/method.md Eq. 2, 5-9)."""
import math
from dataclasses import replace

import pytest
import torch

from vplan_core.method.losses import (
    LOSS_KINDS, LossConfig, bce, category_richness, compute_loss, has_segment_labels,
    AUDIO, VISUAL, predicted_richness, richness_loss, segment_richness,
)
from vplan_core.models.han import HAN

C = 25
DOG, ROOSTER, SPEECH = 3, 12, 0


def bce_hand(p: float, y: float) -> float:
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def fig2_labels() -> torch.Tensor:
    """The paper's Fig. 2-2 example as a 4-segment toy [1, 4, C].

    Segment 0 holds dog, rooster and speech; segment 1 dog and rooster; segments 2-3 (the last
    two) only dog. So cr_0 = 3/3 = 1 and cr_last = 1/3; dog is in 4/4 segments (sr = 1) and
    speech in 1/4 (sr = 1/4), the paper's numbers. T = 4 because 1/4 of 10 segments is not an
    integer; the functions do not depend on T.
    """
    seg = torch.zeros(1, 4, C)
    seg[0, :, DOG] = 1
    seg[0, 0:2, ROOSTER] = 1
    seg[0, 0, SPEECH] = 1
    return seg


def constant_outputs(p, pa, pv, frame_a, frame_v, b=1, t=4):
    frame = torch.empty(b, t, 2, C)
    frame[:, :, 0], frame[:, :, 1] = frame_a, frame_v
    return (torch.full((b, C), p), torch.full((b, C), pa), torch.full((b, C), pv), frame)


def test_richness_fig2():
    seg = fig2_labels()
    cr, sr = category_richness(seg), segment_richness(seg)
    torch.testing.assert_close(cr[0], torch.tensor([1.0, 2 / 3, 1 / 3, 1 / 3]))
    assert sr[0, DOG] == 1.0 and sr[0, SPEECH] == 0.25 and sr[0, ROOSTER] == 0.5
    assert sr[0].sum() == pytest.approx(1.75)  # all other classes 0


def test_category_richness_zero_without_visual_labels():
    seg = torch.zeros(2, 10, C)
    seg[1, 3, 5] = 1
    cr = category_richness(seg)
    assert torch.all(cr[0] == 0)
    assert cr[1, 3] == 1.0 and cr[1].sum() == 1.0


def test_predicted_richness_and_clamp():
    # P^v = 0.5 for 5 classes in segment 0 only, 0 elsewhere: Σ_c max_t P = 2.5
    frame_v = torch.zeros(1, 4, C)
    frame_v[0, 0, :5] = 0.5
    frame_v[0, 1, :2] = 0.5
    cr_hat, sr_hat = predicted_richness(frame_v, eps=1e-6)
    torch.testing.assert_close(cr_hat, torch.tensor([[1 - 1e-6, 0.4, 1e-6, 1e-6]]))
    assert sr_hat[0, 0] == pytest.approx(0.25) and sr_hat[0, 4] == pytest.approx(0.125)
    assert sr_hat[0, 5] == pytest.approx(1e-6)  # clamped up from 0
    cr_hat, _ = predicted_richness(torch.zeros(1, 4, C), eps=1e-6)  # no 0/0 when P^v underflows
    assert torch.all(cr_hat == 1e-6)


def test_predicted_category_richness_stays_in_unit_interval():
    """Whatever P^v is (uniform, spiky, one segment, all ones), 0 <= ĉr_t <= 1: the old form,
    Σ_c P^v_t / Σ_c p^v with the attention-pooled p^v, exceeds 1 on the spiky case."""
    torch.manual_seed(0)
    cases = [torch.rand(64, 10, C), torch.rand(64, 10, C) ** 8, torch.ones(2, 10, C),
             torch.full((2, 10, C), 1e-9)]
    spiky = torch.full((1, 10, C), 1e-3)
    spiky[0, 4] = 0.99
    cases.append(spiky)
    for frame_v in cases:
        cr_hat, sr_hat = predicted_richness(frame_v, eps=1e-6)
        raw = frame_v.sum(-1) / frame_v.amax(1).sum(-1, keepdim=True)
        assert torch.all(raw <= 1 + 1e-6)
        assert torch.all((cr_hat >= 1e-6) & (cr_hat <= 1 - 1e-6))
        assert torch.all((sr_hat >= 1e-6) & (sr_hat <= 1 - 1e-6))
    # the attention-pooled mean of the spiky video is about 1/10 of its peak: ratio ~ 10
    pooled = spiky.mean(dim=1)
    assert (spiky.sum(-1) / pooled.sum(-1, keepdim=True)).max() > 5


def test_videos_without_visual_labels_add_nothing_to_the_cr_term():
    """The CR term of a video with no visual pseudo label is masked: its P^v gets no CR gradient,
    and adding such a video to a batch leaves the CR term unchanged."""
    labelled = fig2_labels()
    seg = torch.cat([labelled, torch.zeros(1, 4, C)])
    assert has_segment_labels(seg).tolist() == [True, False]
    torch.manual_seed(0)
    frame = torch.rand(2, 4, 2, C).requires_grad_()
    out = (torch.full((2, C), 0.5), torch.full((2, C), 0.5), torch.full((2, C), 0.5), frame)
    cfg = LossConfig()
    no_sr = LossConfig()

    def cr_term(outputs, labels):  # L_RL minus its SR part
        frame_v = outputs[3][:, :, 1]
        sr_hat = frame_v.mean(1).clamp(cfg.rl_eps, 1 - cfg.rl_eps)
        return richness_loss(outputs, labels, no_sr) - bce(sr_hat, segment_richness(labels))

    (grad,) = torch.autograd.grad(cr_term(out, seg), frame)
    assert torch.all(grad[1] == 0)
    assert grad[0, :, 1].abs().sum() > 0
    single = tuple(x[:1] for x in out)
    torch.testing.assert_close(cr_term(out, seg), cr_term(single, labelled))
    # a batch with no visual labels at all has no CR term (and no NaN)
    empty = torch.zeros(2, 4, C)
    assert cr_term(out, empty).item() == pytest.approx(0.0, abs=1e-6)


def test_han_loss_by_hand_and_smoothing_constants():
    y = torch.zeros(1, C)
    y[0, [DOG, SPEECH]] = 1
    out = constant_outputs(0.8, 0.6, 0.3, 0.5, 0.5)
    got = compute_loss(out, y, None, LossConfig("han")).item()
    # audio target 1.0·y + 0·0.5 = y; visual 0.9·y + 0.05 -> 0.95 / 0.05
    expected = ((2 * bce_hand(0.8, 1) + 23 * bce_hand(0.8, 0))
                + (2 * bce_hand(0.6, 1) + 23 * bce_hand(0.6, 0))
                + (2 * bce_hand(0.3, 0.95) + 23 * bce_hand(0.3, 0.05))) / C
    assert got == pytest.approx(expected, rel=1e-5)
    swapped = LossConfig(smoothing_audio=0.9, smoothing_visual=1.0)
    assert compute_loss(out, y, None, replace(swapped, kind="han")).item() != pytest.approx(expected, rel=1e-3)
    # mean (not sum) reduction over classes
    assert got < 3 * max(bce_hand(0.8, 0), bce_hand(0.6, 0), bce_hand(0.3, 0.05)) + 1e-6


def test_probabilities_are_clamped():
    y = torch.zeros(1, C)
    y[0, 0] = 1
    out = constant_outputs(0.0, 0.0, 0.0, 0.5, 0.5)
    got = compute_loss(out, y, None, LossConfig("han")).item()
    lo = 1e-7
    expected = (bce_hand(lo, 1) / C) + (bce_hand(lo, 1) / C) + (bce_hand(lo, 0.95) + 24 * bce_hand(lo, 0.05)) / C
    assert got == pytest.approx(expected, rel=1e-4)


def test_plg_losses_by_hand():
    seg = fig2_labels()
    y = seg.amax(dim=1)
    y[0, 7] = 1  # an audio-only class: in y, absent from the visual pseudo label
    q, r = 0.2, 0.4
    out = constant_outputs(0.7, 0.6, r, 0.5, q)
    cfg = LossConfig()
    basic = ((4 * bce_hand(0.7, 1) + 21 * bce_hand(0.7, 0)) + (4 * bce_hand(0.6, 1) + 21 * bce_hand(0.6, 0))
             + (3 * bce_hand(r, 1) + 22 * bce_hand(r, 0))) / C  # visual target ŷ^v, no smoothing
    assert compute_loss(out, y, seg, replace(cfg, kind="plg")).item() == pytest.approx(basic, rel=1e-5)

    n_pos = int(seg.sum())
    seg_bce = (n_pos * bce_hand(q, 1) + (4 * C - n_pos) * bce_hand(q, 0)) / (4 * C)
    got = compute_loss(out, y, seg, replace(cfg, kind="plg_segbce")).item()
    assert got == pytest.approx(basic + 0.5 * seg_bce, rel=1e-5)

    # constant P^v = q: ĉr_t = C·q / (C·q) = 1 (clamped to 1 - ε) for all t; ŝr_c = q
    cr_hat = torch.tensor(1 - 1e-6).item()  # as float32 rounds it
    cr = [1, 2 / 3, 1 / 3, 1 / 3]
    sr = {DOG: 1.0, ROOSTER: 0.5, SPEECH: 0.25}
    l_cr = sum(bce_hand(cr_hat, c) for c in cr) / 4
    l_sr = sum(bce_hand(q, sr.get(c, 0.0)) for c in range(C)) / C
    got = compute_loss(out, y, seg, replace(cfg, kind="plg_rl")).item()
    assert got == pytest.approx(basic + 0.5 * (l_cr + l_sr), rel=1e-5)

    l1 = sum(abs(cr_hat - c) for c in cr) / 4 + sum(abs(q - sr.get(c, 0.0)) for c in range(C)) / C
    got = compute_loss(out, y, seg, LossConfig("plg_rl", rl_distance="l1", rl_lambda=2.0)).item()
    assert got == pytest.approx(basic + 2.0 * l1, rel=1e-5)


def test_unknown_kind_and_missing_labels():
    out = constant_outputs(0.5, 0.5, 0.5, 0.5, 0.5)
    y = torch.zeros(1, C)
    with pytest.raises(ValueError):
        LossConfig("nope")
    with pytest.raises(ValueError):
        compute_loss(out, y, None, LossConfig("plg_rl"))
    with pytest.raises(ValueError):
        LossConfig("plg_rl", rl_distance="kl")


@pytest.mark.parametrize("kind", LOSS_KINDS)
def test_gradients_reach_every_used_parameter(kind):
    torch.manual_seed(0)
    model = HAN(audio_dim=8, visual_2d_dim=12, visual_3d_dim=6, d_model=16, dim_feedforward=16)
    b = 4
    y = (torch.rand(b, C) < 0.2).float()
    y[:, 0] = 1
    seg = (torch.rand(b, 10, C) < 0.5).float() * y[:, None, :]
    out = model(torch.randn(b, 10, 8), torch.randn(b, 80, 12), torch.randn(b, 10, 6))
    audio_seg = (torch.rand(b, 10, C) < 0.5).float() * y[:, None, :]
    modality = (torch.rand(b, 2, C) < 0.7).float() * y[:, None, :]  # each modality's video labels
    loss = compute_loss(out, y, seg, LossConfig(kind), audio_seg, modality)
    loss.backward()
    assert torch.isfinite(loss)
    for name, param in model.named_parameters():
        if name.startswith(("hat_encoder.norm1", "hat_encoder.norm2")):
            assert param.grad is None  # never applied, as in the reference
            continue
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


def test_richness_term_only_drives_the_visual_frames():
    seg = fig2_labels()
    frame = torch.full((1, 4, 2, C), 0.3, requires_grad=True)
    pv = torch.full((1, C), 0.5, requires_grad=True)
    out = (torch.full((1, C), 0.5), torch.full((1, C), 0.5), pv, frame)
    cfg = LossConfig()
    rl = compute_loss(out, seg.amax(1), seg, replace(cfg, kind="plg_rl")) - compute_loss(out, seg.amax(1), seg, replace(cfg, kind="plg"))
    rl.backward()
    assert torch.all(frame.grad[:, :, 0] == 0)
    assert frame.grad[:, :, 1].abs().sum() > 0
    assert torch.all(pv.grad == 0)  # ĉr's video level is max_t P^v, not the pooled p^v


def test_audio_richness_is_the_visual_one_on_the_audio_frames():
    """Rows 6-7: the audio CR/SR terms are computed from P^a exactly as the visual ones from P^v
    (the same value with the modalities swapped) and drive the audio frames only."""
    torch.manual_seed(1)
    seg = fig2_labels()
    frame = torch.rand(1, 4, 2, C).clamp(0.05, 0.95).requires_grad_()
    out = (torch.full((1, C), 0.5), torch.full((1, C), 0.5), torch.full((1, C), 0.5), frame)
    swapped = (*out[:3], frame.flip(2))
    cfg = LossConfig("plg_av_rl")
    audio = richness_loss(out, seg, cfg, AUDIO)
    torch.testing.assert_close(audio, richness_loss(swapped, seg, cfg, VISUAL))
    audio.backward()
    assert torch.all(frame.grad[:, :, VISUAL] == 0) and frame.grad[:, :, AUDIO].abs().sum() > 0


def test_audio_visual_loss_is_eq5_on_both_modalities_plus_both_richness_terms():
    torch.manual_seed(2)
    seg, audio_seg = fig2_labels(), fig2_labels().roll(1, dims=1)
    y = torch.maximum(seg.amax(1), audio_seg.amax(1))
    frame = torch.rand(1, 4, 2, C).clamp(0.05, 0.95)
    out = (torch.rand(1, C).clamp(0.05, 0.95), torch.rand(1, C).clamp(0.05, 0.95), torch.rand(1, C).clamp(0.05, 0.95), frame)
    cfg = LossConfig("plg_av_rl", rl_lambda=0.7)
    expected = (bce(out[0], y) + bce(out[1], audio_seg.amax(1)) + bce(out[2], seg.amax(1))
                + 0.7 * (richness_loss(out, seg, cfg, VISUAL) + richness_loss(out, audio_seg, cfg, AUDIO)))
    torch.testing.assert_close(compute_loss(out, y, seg, cfg, audio_seg), expected)
    with pytest.raises(ValueError, match="audio segment pseudo labels"):
        compute_loss(out, y, seg, cfg)


def test_bce_matches_torch_and_propagates_nan():
    torch.manual_seed(0)
    p = torch.rand(6, C).clamp(1e-7, 1 - 1e-7).requires_grad_()
    y = torch.rand(6, C)
    ours = bce(p, y)
    (g_ours,) = torch.autograd.grad(ours, p)
    ref = torch.nn.functional.binary_cross_entropy(p, y)
    (g_ref,) = torch.autograd.grad(ref, p)
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(g_ours, g_ref)
    assert torch.isnan(bce(torch.full((2,), float("nan")), torch.ones(2)))


def test_valor_loss_takes_the_segment_terms_with_logits_where_outputs_carry_them():
    """With frame logits (VALOR's outputs, models.loss_outputs): main_avvp.py's loss, BCE(p, y) +
    BCE-with-logits of the audio and visual frame logits, in value and in gradient at logits up
    to |30|. Without them (another family's outputs): BCE on P clamped to [1e-7, 1 - 1e-7], the
    same value where float32 resolves the sigmoid (|logit| <= 8 here) and no gradient past the
    clamp (|logit| > 16.2), so a confident mistake stays."""
    torch.manual_seed(3)
    logits = (torch.rand(2, 10, 2, C) * 60 - 30).requires_grad_()
    p = torch.rand(2, C).clamp(0.05, 0.95)
    y = (torch.rand(2, C) < 0.3).float()
    seg, audio_seg = ((torch.rand(2, 10, C) < 0.4).float() for _ in range(2))
    half = torch.full((2, C), 0.5)
    official = (torch.nn.functional.binary_cross_entropy(p, y)
                + torch.nn.functional.binary_cross_entropy_with_logits(logits[:, :, 0], audio_seg)
                + torch.nn.functional.binary_cross_entropy_with_logits(logits[:, :, 1], seg))
    with_logits = compute_loss((p, half, half, torch.sigmoid(logits), logits), y, seg, LossConfig("valor"), audio_seg)
    torch.testing.assert_close(with_logits, official)
    (grad_official,) = torch.autograd.grad(official, logits)
    (grad,) = torch.autograd.grad(with_logits, logits)
    torch.testing.assert_close(grad, grad_official)

    target = torch.stack((audio_seg, seg), dim=2)
    mistakes = (logits.abs() > 17) & ((logits > 0) != (target > 0))
    assert mistakes.sum() > 100 and torch.all(grad_official[mistakes].abs() > 0.99 / seg.numel())  # (sigmoid - y) / N
    clamped = compute_loss((p, half, half, torch.sigmoid(logits)), y, seg, LossConfig("valor"), audio_seg)
    (grad_clamped,) = torch.autograd.grad(clamped, logits)
    assert torch.all(grad_clamped[logits.abs() > 17] == 0)
    moderate = logits.detach().clamp(-8, 8)
    torch.testing.assert_close(
        compute_loss((p, half, half, torch.sigmoid(moderate)), y, seg, LossConfig("valor"), audio_seg),
        compute_loss((p, half, half, torch.sigmoid(moderate), moderate), y, seg, LossConfig("valor"), audio_seg),
        rtol=1e-5, atol=1e-6)


def test_temporal_audio_loss_is_row4_when_the_audio_labels_are_the_video_label():
    """Copied to every second, the video label marks no class silent: rows ⑥-⑦'s loss then
    reads it as row ④ reads the video label, exactly (value and gradients)."""
    torch.manual_seed(4)
    seg = fig2_labels().repeat(3, 1, 1)
    y = torch.zeros(3, C)
    y[:, [DOG, ROOSTER, SPEECH, 7]] = 1
    frame = torch.rand(3, 4, 2, C).clamp(0.05, 0.95).requires_grad_()
    out = (torch.rand(3, C).clamp(0.05, 0.95), torch.rand(3, C).clamp(0.05, 0.95), torch.rand(3, C).clamp(0.05, 0.95), frame)
    full_span = y[:, None, :].expand(3, 4, C)
    temporal = compute_loss(out, y, seg, LossConfig("plg_av_temporal"), full_span)
    row4 = compute_loss(out, y, seg, LossConfig("plg_rl"))
    assert torch.equal(temporal, row4)
    grad_temporal, = torch.autograd.grad(temporal, frame)
    grad_row4, = torch.autograd.grad(row4, frame)
    assert torch.equal(grad_temporal, grad_row4)


def test_temporal_audio_loss_by_hand():
    """Row ⑥'s audio terms: λ·(BCE(P^a, 0) on the silent seconds + L_RL on P^a over the videos
    with silent seconds); p^a's target is max_t Ŷ^a."""
    torch.manual_seed(5)
    seg = fig2_labels().repeat(2, 1, 1)
    audio = fig2_labels().repeat(2, 1, 1)
    audio[1] = audio[1].amax(dim=0, keepdim=True)  # video 1: every class over the whole clip
    y = torch.maximum(seg.amax(1), audio.amax(1))
    frame = torch.rand(2, 4, 2, C).clamp(0.05, 0.95).requires_grad_()
    out = (torch.rand(2, C).clamp(0.05, 0.95), torch.rand(2, C).clamp(0.05, 0.95), torch.rand(2, C).clamp(0.05, 0.95), frame)
    cfg = LossConfig("plg_av_temporal", rl_lambda=0.7)
    silent = (audio.amax(1, keepdim=True) > 0) & (audio == 0)
    assert silent[0].sum() == 5 and silent[1].sum() == 0  # rooster silent in 2 seconds, speech in 3
    silence = -(torch.log1p(-frame[:, :, AUDIO]) * silent).sum() / silent.numel()
    audio_rl = richness_loss((out[0][:1], out[1][:1], out[2][:1], frame[:1]), audio[:1], cfg, AUDIO)
    expected = (bce(out[0], y) + bce(out[1], audio.amax(1)) + bce(out[2], seg.amax(1))
                + 0.7 * (richness_loss(out, seg, cfg, VISUAL) + silence + audio_rl))
    loss = compute_loss(out, y, seg, cfg, audio)
    torch.testing.assert_close(loss, expected)
    grad, = torch.autograd.grad(loss, frame)  # video 1's audio frames: no term reads them
    assert torch.all(grad[1, :, AUDIO] == 0) and grad[0, :, AUDIO].abs().sum() > 0
