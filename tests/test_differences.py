"""The rule that tells a row's difference from its control from seed noise: Student's t in closed
form against its tables, and the paired test on constructed seed results whose answer is known."""
from __future__ import annotations

import pytest

from vplan_core.evaluation.differences import paired_difference, t_critical, t_two_sided_p

# Two-sided 5% points of Student's t (any statistics table), by degrees of freedom
T_05 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 10: 2.228, 30: 2.042}


@pytest.mark.parametrize("df, t", T_05.items())
def test_t_two_sided_p_and_critical_value_match_the_tables(df, t):
    assert t_two_sided_p(t, df) == pytest.approx(0.05, abs=2e-4)
    assert t_two_sided_p(-t, df) == t_two_sided_p(t, df)
    assert t_critical(df) == pytest.approx(t, abs=1e-3)


def test_t_two_sided_p_known_values():
    assert t_two_sided_p(0.0, 3) == pytest.approx(1.0)
    assert t_two_sided_p(1.0, 1) == pytest.approx(0.5)  # Cauchy: P(|T| > 1) = 1/2
    assert t_two_sided_p(2.0, 7) == pytest.approx(0.0856, abs=1e-4)
    assert t_two_sided_p(1.0, 200) == pytest.approx(0.3185, abs=1e-3)  # near the normal's 0.3173
    with pytest.raises(ValueError, match="positive integer"):
        t_two_sided_p(1.0, 0)


CONTROL = {0: 60.0, 1: 62.0, 2: 64.0}  # spread (std over seeds): 2.0


def test_equal_means_are_not_marked():
    same_mean = {0: 62.0, 1: 64.0, 2: 60.0}
    d = paired_difference(same_mean, CONTROL)
    assert d["mean"] == pytest.approx(0.0) and d["seeds"] == [0, 1, 2]
    assert not d["beyond_noise"] and d["p"] > 0.5


def test_a_shift_of_three_spreads_is_marked():
    shifted = {0: 68.0, 1: 66.0, 2: 70.0}  # control + 6 (three of its spreads), seed noise of spread 2 on top
    d = paired_difference(shifted, CONTROL)
    assert d["mean"] == pytest.approx(6.0) and d["std"] == pytest.approx(2.0)
    assert d["beyond_noise"] and d["p"] < 0.05
    assert not paired_difference({0: 62.0, 1: 60.0, 2: 66.0}, CONTROL)["beyond_noise"]  # + 0.67 spread: noise


def test_pairing_by_seed_removes_what_a_seed_does_to_both():
    """A one-point shift that every seed shows is beyond noise, though the seeds scatter by two."""
    d = paired_difference({s: v + 1.0 + 0.1 * s for s, v in CONTROL.items()}, CONTROL)
    assert d["std"] == pytest.approx(0.1) and d["beyond_noise"]


def test_one_seed_and_seedless_labels():
    one = paired_difference({0: 70.0}, {0: 60.0})
    assert one["p"] is None and not one["beyond_noise"]  # no spread to test against
    exact = paired_difference({0: 70.0, 1: 70.0}, {0: 60.0, 1: 60.0})  # labels that no seed changes
    assert exact["p"] == 0.0 and exact["beyond_noise"]
    assert not paired_difference({0: 60.0, 1: 60.0}, {0: 60.0, 1: 60.0})["beyond_noise"]
    assert paired_difference({0: 70.0, 1: 71.0, 5: 90.0}, {0: 60.0, 1: 61.0})["seeds"] == [0, 1]
    with pytest.raises(ValueError, match="no seed in common"):
        paired_difference({0: 1.0}, {1: 1.0})
