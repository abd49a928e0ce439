"""A row's difference from its control, paired by seed, and the rule that tells it from seed noise
(docs/metric.md, "Differences beyond noise"): a two-sided paired t-test over the seeds at 5%.

The same seed gives a row and its control the same initial weights, data order and dropout noise
(training/trainer.py), so their difference on one seed is the effect of what the row adds plus
the noise of that one training, and the seeds' differences scatter only by that noise. Student's
t distribution is computed here in closed form (integer degrees of freedom), numpy only."""
from __future__ import annotations

import math

import numpy as np

ALPHA = 0.05  # two-sided level of the test


def t_two_sided_p(t: float, df: int) -> float:
    """P(|T| >= |t|) for Student's t with df (a positive integer) degrees of freedom: 1 - A(t|df)
    of Abramowitz & Stegun 26.7.3 (odd df) and 26.7.4 (even df), finite sums in θ = atan(t/√df)."""
    if df < 1 or int(df) != df:
        raise ValueError(f"degrees of freedom must be a positive integer, got {df}")
    theta = math.atan(abs(t) / math.sqrt(df))
    sin, cos2 = math.sin(theta), math.cos(theta) ** 2
    if df % 2:  # 2/π (θ + sinθ (cosθ + 2/3 cos³θ + ... + (2·4···(df-3))/(1·3···(df-2)) cos^(df-2)θ))
        term, total = math.cos(theta), 0.0
        for j in range(1, df - 1, 2):
            total += term
            term *= cos2 * (j + 1) / (j + 2)
        inside = 2 / math.pi * (theta + sin * total)
    else:  # sinθ (1 + 1/2 cos²θ + (1·3)/(2·4) cos⁴θ + ... + (1·3···(df-3))/(2·4···(df-2)) cos^(df-2)θ)
        term, total = 1.0, 0.0
        for j in range(0, df - 1, 2):
            total += term
            term *= cos2 * (j + 1) / (j + 2)
        inside = sin * total
    return min(max(1.0 - inside, 0.0), 1.0)


def t_critical(df: int, alpha: float = ALPHA) -> float:
    """The |t| at which the two-sided p falls to alpha (bisection on t_two_sided_p)."""
    low, high = 0.0, 1.0
    while t_two_sided_p(high, df) > alpha:
        high *= 2
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if t_two_sided_p(middle, df) > alpha else (low, middle)
    return (low + high) / 2


def paired_difference(values: dict[int, float], control: dict[int, float], alpha: float = ALPHA) -> dict:
    """The seeds both have (seed -> score each): the mean of their differences, its spread (sample
    std, ddof 1; 0 for one seed), the t-test's p (None under 2 seeds: no spread to test against;
    0 where every seed differs by the same nonzero amount, as for labels that no seed changes)
    and whether the difference is beyond noise (p < alpha)."""
    seeds = sorted(set(values) & set(control))
    if not seeds:
        raise ValueError(f"no seed in common: the row has seeds {sorted(values)}, its control {sorted(control)}")
    d = np.array([values[s] - control[s] for s in seeds], dtype=np.float64)
    mean, std = float(d.mean()), float(d.std(ddof=1)) if len(d) > 1 else 0.0
    if len(d) < 2:
        p = None
    elif std == 0.0:
        p = 0.0 if mean != 0.0 else 1.0
    else:
        p = t_two_sided_p(mean / (std / math.sqrt(len(d))), len(d) - 1)
    return {"seeds": seeds, "mean": mean, "std": std, "p": p, "beyond_noise": p is not None and p < alpha}
