"""Few-label probes: exact stratification, repeatable draws, the probe itself."""

from __future__ import annotations

import numpy as np
import pytest

from aecli.evaluation.probes import few_label_probe, stratified_counts, stratified_sample
from aecli.evaluation.metrics import linear_probe_accuracy


@pytest.mark.parametrize(
    "class_counts, num_labels, expected",
    [
        ([500, 300, 200], 10, [5, 3, 2]),  # shares are whole numbers
        ([500, 300, 200], 7, [4, 2, 1]),  # quotas 3.5, 2.1, 1.4: the one left over goes to the largest remainder
        ([970, 20, 10], 10, [8, 1, 1]),  # quotas 9.7, 0.2, 0.1: the rare classes keep one each, paid by the large one
        ([3, 3, 3], 9, [3, 3, 3]),  # every label there is
        ([1, 1, 1, 1], 4, [1, 1, 1, 1]),
        ([50, 50], 3, [2, 1]),  # an exact tie goes to the class listed first
    ],
)
def test_stratified_counts_exact(class_counts, num_labels, expected):
    assert stratified_counts(np.array(class_counts), num_labels).tolist() == expected


def test_stratified_counts_stay_within_what_each_class_has():
    rng = np.random.default_rng(0)
    for _ in range(200):
        class_counts = rng.integers(1, 40, size=rng.integers(1, 8))
        num_labels = int(rng.integers(len(class_counts), class_counts.sum() + 1))
        counts = stratified_counts(class_counts, num_labels)
        assert counts.sum() == num_labels
        assert (counts >= 1).all() and (counts <= class_counts).all()


def test_stratified_counts_refuse_impossible_budgets():
    with pytest.raises(ValueError, match="cannot cover 3 classes"):
        stratified_counts(np.array([10, 10, 10]), 2)
    with pytest.raises(ValueError, match="only 30 labelled"):
        stratified_counts(np.array([10, 10, 10]), 31)


def test_stratified_sample_draws_each_class_its_count_without_repeats():
    labels = np.repeat(np.array([7, 2, 5]), [500, 300, 200])
    np.random.default_rng(0).shuffle(labels)
    chosen = stratified_sample(labels, 10, np.random.default_rng(1))
    assert len(np.unique(chosen)) == 10
    assert {label: int((labels[chosen] == label).sum()) for label in (2, 5, 7)} == {2: 3, 5: 2, 7: 5}


def test_stratified_sample_repeats_with_the_seed_and_differs_without():
    labels = np.repeat(np.arange(4), 100)
    first = stratified_sample(labels, 20, np.random.default_rng(3))
    again = stratified_sample(labels, 20, np.random.default_rng(3))
    other = stratified_sample(labels, 20, np.random.default_rng(4))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def separable_codes(num_per_class: int, seed: int):
    """Four tight clusters far apart: any one example per class separates them."""
    rng = np.random.default_rng(seed)
    centers = np.array([[10.0, 0, 0], [0, 10.0, 0], [0, 0, 10.0], [-10.0, -10.0, -10.0]])
    labels = np.repeat(np.arange(4), num_per_class)
    return centers[labels] + 0.3 * rng.normal(size=(len(labels), 3)), labels


def test_few_label_probe_reaches_100_percent_on_separable_codes_with_one_label_per_class():
    train, train_labels = separable_codes(100, seed=0)
    test, test_labels = separable_codes(50, seed=1)
    assert few_label_probe(train, train_labels, test, test_labels, num_labels=4, draws=3) == (1.0, 0.0)


def overlapping_codes(seed: int):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), 200)
    return rng.normal(size=(600, 4)) + 1.2 * np.eye(3, 4)[labels], labels


def test_few_label_probe_repeats_with_its_seed_and_reports_the_spread():
    train, train_labels = overlapping_codes(0)
    test, test_labels = overlapping_codes(1)
    args = (train, train_labels, test, test_labels, 12)
    mean, spread = few_label_probe(*args, draws=4, seed=5)
    assert few_label_probe(*args, draws=4, seed=5) == (mean, spread)
    assert 1 / 3 < mean < 1.0
    assert spread > 0  # 12 labels of overlapping classes: the draw matters
    # The mean is of the probe the full-label metric uses, on each seeded draw in turn.
    rng = np.random.default_rng(5)
    by_hand = [
        linear_probe_accuracy(train[idx], train_labels[idx], test, test_labels)
        for idx in (stratified_sample(train_labels, 12, rng) for _ in range(4))
    ]
    assert mean == pytest.approx(np.mean(by_hand), abs=1e-12)
    assert spread == pytest.approx(np.std(by_hand, ddof=1), abs=1e-12)


def test_few_label_probe_with_every_label_is_the_full_probe():
    train, train_labels = overlapping_codes(2)
    test, test_labels = overlapping_codes(3)
    full = linear_probe_accuracy(train, train_labels, test, test_labels)
    assert few_label_probe(train, train_labels, test, test_labels, num_labels=600, draws=2) == (full, 0.0)


def test_few_label_probe_refuses_a_budget_below_the_number_of_classes():
    train, train_labels = overlapping_codes(0)
    with pytest.raises(ValueError, match="at least 3"):
        few_label_probe(train, train_labels, train, train_labels, num_labels=2)
