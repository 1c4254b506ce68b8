"""Anomaly AUROC against a brute-force pair count; interpolations against their closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from aecli.evaluation.anomaly import anomaly_auroc, roc_curve_points
from aecli.report.interpolations import interpolate_codes, slerp_codes


def pair_count_auroc(scores: np.ndarray, is_anomaly: np.ndarray) -> float:
    """P(anomaly outscores normal) over every (anomaly, normal) pair, a tie counting one half."""
    anomalous, normal = scores[is_anomaly], scores[~is_anomaly]
    wins = (anomalous[:, None] > normal[None, :]).sum() + 0.5 * (anomalous[:, None] == normal[None, :]).sum()
    return wins / (len(anomalous) * len(normal))


@pytest.mark.parametrize("seed", range(4))
def test_auroc_is_the_pair_count_ties_included(seed):
    rng = np.random.default_rng(seed)
    is_anomaly = rng.random(120) < 0.3
    # Few distinct integer scores, shifted up for anomalies: many ties, an imperfect detector.
    scores = rng.integers(0, 6, size=120) + 2 * is_anomaly
    auroc = anomaly_auroc(scores, is_anomaly)
    assert auroc == pytest.approx(pair_count_auroc(scores, is_anomaly), abs=1e-12)
    assert 0.5 < auroc < 1.0


def test_auroc_extremes_and_direction():
    is_anomaly = np.array([0, 0, 0, 1, 1], dtype=bool)
    assert anomaly_auroc([1.0, 2.0, 3.0, 4.0, 5.0], is_anomaly) == 1.0  # anomalies score highest
    assert anomaly_auroc([5.0, 4.0, 3.0, 2.0, 1.0], is_anomaly) == 0.0  # the score is backwards
    assert anomaly_auroc([7.0] * 5, is_anomaly) == 0.5  # one constant score tells nothing


def test_roc_points_run_from_corner_to_corner_and_enclose_the_auroc():
    rng = np.random.default_rng(9)
    is_anomaly = rng.random(200) < 0.2
    scores = rng.normal(size=200) + 1.5 * is_anomaly
    false_positive_rate, true_positive_rate = roc_curve_points(scores, is_anomaly)
    assert (false_positive_rate[0], true_positive_rate[0]) == (0.0, 0.0)
    assert (false_positive_rate[-1], true_positive_rate[-1]) == (1.0, 1.0)
    assert (np.diff(false_positive_rate) >= 0).all() and (np.diff(true_positive_rate) >= 0).all()
    area = np.sum(np.diff(false_positive_rate) * (true_positive_rate[1:] + true_positive_rate[:-1]) / 2)
    assert area == pytest.approx(anomaly_auroc(scores, is_anomaly), abs=1e-12)


@pytest.mark.parametrize(
    "scores, is_anomaly, message",
    [
        ([1.0, 2.0], [True, True], "both normal and anomalous"),
        ([1.0, 2.0], [False, False], "both normal and anomalous"),
        ([1.0, np.nan], [False, True], "finite"),
        ([1.0, 2.0, 3.0], [False, True], "3 scores but 2"),
    ],
)
def test_scores_that_cannot_give_an_auroc_are_refused(scores, is_anomaly, message):
    with pytest.raises(ValueError, match=message):
        anomaly_auroc(scores, is_anomaly)
    with pytest.raises(ValueError, match=message):
        roc_curve_points(scores, is_anomaly)


def test_linear_interpolation_endpoints_midpoint_and_even_steps():
    z_a, z_b = np.array([1.0, -2.0, 0.5]), np.array([3.0, 2.0, -0.5])
    path = interpolate_codes(z_a, z_b, steps=5)
    assert path.shape == (5, 3)
    np.testing.assert_array_equal(path[0], z_a)
    np.testing.assert_array_equal(path[-1], z_b)
    np.testing.assert_allclose(path[2], (z_a + z_b) / 2)
    np.testing.assert_allclose(np.diff(path, axis=0), np.tile((z_b - z_a) / 4, (4, 1)))


def test_slerp_endpoints_and_midpoint_keep_the_norm():
    rng = np.random.default_rng(0)
    z_a, z_b = rng.normal(size=16), rng.normal(size=16)
    z_b *= np.linalg.norm(z_a) / np.linalg.norm(z_b)  # equal norms: the path stays on one sphere
    path = slerp_codes(z_a, z_b, steps=7)
    assert path.shape == (7, 16)
    np.testing.assert_allclose(path[0], z_a, atol=1e-12)
    np.testing.assert_allclose(path[-1], z_b, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(z_a), rtol=1e-12)
    midpoint_direction = (z_a + z_b) / np.linalg.norm(z_a + z_b)
    np.testing.assert_allclose(slerp_codes(z_a, z_b, steps=3)[1], np.linalg.norm(z_a) * midpoint_direction, rtol=1e-12)
    # The straight line's midpoint is shorter: the reason to prefer slerp for Gaussian codes.
    assert np.linalg.norm(interpolate_codes(z_a, z_b, 3)[1]) < 0.9 * np.linalg.norm(z_a)


def test_slerp_turns_at_a_constant_rate():
    """Between orthogonal unit codes, step k of n lies at angle (k / (n - 1)) * 90 degrees."""
    path = slerp_codes(np.array([1.0, 0.0]), np.array([0.0, 1.0]), steps=4)
    angles = np.degrees(np.arctan2(path[:, 1], path[:, 0]))
    np.testing.assert_allclose(angles, [0.0, 30.0, 60.0, 90.0], atol=1e-12)


@pytest.mark.parametrize(
    "z_a, z_b",
    [([1.0, 2.0], [2.0, 4.0]), ([1.0, 2.0], [-1.0, -2.0]), ([0.0, 0.0], [1.0, 3.0])],
    ids=["parallel", "opposite", "zero"],
)
def test_slerp_without_a_great_circle_falls_back_to_the_straight_line(z_a, z_b):
    np.testing.assert_allclose(slerp_codes(z_a, z_b, 5), interpolate_codes(z_a, z_b, 5))


def test_interpolation_refuses_mismatched_codes_and_too_few_steps():
    with pytest.raises(ValueError, match="different sizes"):
        interpolate_codes(np.zeros(3), np.zeros(4), 5)
    with pytest.raises(ValueError, match="steps >= 2"):
        slerp_codes(np.zeros(3), np.ones(3), 1)
