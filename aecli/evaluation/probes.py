"""Few-label probes: how good are the codes as features when only N training labels are known?

A stratified draw of N labelled training codes (every class keeps its share of the training
split, at least one example each), the same standardize + logistic-regression probe as the
full-label `probe_linear_acc` (`aecli.evaluation.metrics.linear_probe_accuracy`), repeated over a few
seeded draws because with 100 labels the draw itself moves the accuracy by points.

NumPy and scikit-learn only; nothing here imports torch.
"""

from __future__ import annotations

import numpy as np

from aecli.evaluation.metrics import linear_probe_accuracy


def stratified_counts(class_counts: np.ndarray, num_labels: int) -> np.ndarray:
    """How many of `num_labels` draws each class gets, (K,) integers summing to `num_labels`.

    Each class gets its share num_labels * n_c / N rounded by largest remainder, but at least
    one (a class the probe never sees can never be predicted) and at most the n_c it has.
    Ties go to the class listed first, so the counts are a pure function of the inputs.
    """
    class_counts = np.asarray(class_counts, dtype=np.int64)
    num_classes, available = len(class_counts), int(class_counts.sum())
    if num_labels < num_classes:
        raise ValueError(
            f"{num_labels} labels cannot cover {num_classes} classes; ask for at least {num_classes}"
        )
    if num_labels > available:
        raise ValueError(f"{num_labels} labels asked for but only {available} labelled training codes exist")
    quota = num_labels * class_counts / available
    counts = np.clip(np.floor(quota).astype(np.int64), 1, class_counts)
    # Flooring leaves at most K labels over; the at-least-one rule can take at most K too.
    # Settle the difference one label at a time where the rounding was furthest off.
    while counts.sum() < num_labels:
        room = np.where(counts < class_counts, quota - counts, -np.inf)
        counts[np.argmax(room)] += 1
    while counts.sum() > num_labels:
        excess = np.where(counts > 1, counts - quota, -np.inf)
        counts[np.argmax(excess)] -= 1
    return counts


def stratified_sample(labels: np.ndarray, num_labels: int, rng: np.random.Generator) -> np.ndarray:
    """Indices (num_labels,) into `labels`: `stratified_counts` of each class, drawn without
    replacement, in ascending order."""
    labels = np.asarray(labels)
    classes, class_counts = np.unique(labels, return_counts=True)
    counts = stratified_counts(class_counts, num_labels)
    chosen = [
        rng.choice(np.flatnonzero(labels == label), size=count, replace=False)
        for label, count in zip(classes, counts)
    ]
    return np.sort(np.concatenate(chosen))


def few_label_probe(
    train_codes: np.ndarray,
    train_labels: np.ndarray,
    test_codes: np.ndarray,
    test_labels: np.ndarray,
    num_labels: int,
    draws: int = 5,
    seed: int = 0,
    max_iter: int = 1000,
) -> tuple[float, float]:
    """Test accuracy of the linear probe fit on `num_labels` stratified training codes.

    train_codes (N, L) with train_labels (N,); test_codes (M, L) with test_labels (M,); the probe
    is scored on the whole test split every time. Returns (mean, std) of the accuracy (fractions
    in [0, 1]) over `draws` draws from one `np.random.default_rng(seed)`: the same seed repeats
    the same draws. std is the sample standard deviation (ddof = 1), the spread one more draw
    would show; a single draw has no spread to measure and reports 0.0.

    Raises ValueError when num_labels is below the number of classes or above N.
    """
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    train_codes, train_labels = np.asarray(train_codes), np.asarray(train_labels)
    rng = np.random.default_rng(seed)
    accuracies = []
    for _ in range(draws):
        chosen = stratified_sample(train_labels, num_labels, rng)
        accuracies.append(
            linear_probe_accuracy(train_codes[chosen], train_labels[chosen], test_codes, test_labels, max_iter)
        )
    spread = float(np.std(accuracies, ddof=1)) if draws > 1 else 0.0
    return float(np.mean(accuracies)), spread
