"""aecli.metrics against closed forms and brute force."""

from __future__ import annotations

import numpy as np
import pytest

from aecli import metrics


def blobs(num_per_class: int, num_classes: int, dim: int, spread: float, seed: int):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(num_classes, dim)) * 10
    labels = np.repeat(np.arange(num_classes), num_per_class)
    codes = centers[labels] + spread * rng.normal(size=(len(labels), dim))
    return codes, labels


def test_linear_probe_separates_separable_classes_and_is_at_chance_on_noise():
    codes, labels = blobs(150, 4, 5, 0.5, seed=0)
    train, train_labels, test, test_labels = codes[::2], labels[::2], codes[1::2], labels[1::2]
    assert metrics.linear_probe_accuracy(train, train_labels, test, test_labels) == 1.0

    rng = np.random.default_rng(1)
    noise = metrics.linear_probe_accuracy(rng.normal(size=(300, 5)), train_labels, rng.normal(size=(300, 5)), test_labels)
    assert 0.1 < noise < 0.45  # chance is 0.25


def test_linear_probe_ignores_the_scale_of_each_latent():
    """Standardizing first: multiplying one latent by 1e6 changes nothing."""
    codes, labels = blobs(120, 3, 4, 6.0, seed=2)
    train, train_labels, test, test_labels = codes[::2], labels[::2], codes[1::2], labels[1::2]
    scale = np.array([1e6, 1.0, 1e-3, 1.0])
    plain = metrics.linear_probe_accuracy(train, train_labels, test, test_labels)
    scaled = metrics.linear_probe_accuracy(train * scale, train_labels, test * scale, test_labels)
    assert 0.5 < plain < 1.0
    assert scaled == pytest.approx(plain, abs=1e-9)


def test_principal_angles_of_known_subspaces():
    e = np.eye(4)
    assert metrics.largest_principal_angle_deg(e[:, :2], e[:, :2]) == pytest.approx(0.0, abs=1e-6)
    assert metrics.largest_principal_angle_deg(e[:, :2], e[:, 2:]) == pytest.approx(90.0)
    # span(e0, e1) against span(e0, cos t e1 + sin t e2): angles (t, 0)
    t = np.radians(30.0)
    rotated = np.stack([e[0], np.cos(t) * e[1] + np.sin(t) * e[2]], axis=1)
    assert metrics.principal_angles_deg(e[:, :2], rotated) == pytest.approx([30.0, 0.0], abs=1e-9)
    # a basis need not be orthonormal: any spanning columns give the same subspace
    mixed = rotated @ np.array([[2.0, 1.0], [0.5, -3.0]])
    assert metrics.largest_principal_angle_deg(e[:, :2], mixed) == pytest.approx(30.0)


def test_small_angles_are_accurate():
    e = np.eye(3)
    t = 1e-7  # arccos of cos(t) would round to 0 or err by orders of magnitude
    tilted = (np.cos(t) * e[0] + np.sin(t) * e[2])[:, None]
    assert metrics.largest_principal_angle_deg(e[:, :1], tilted) == pytest.approx(np.degrees(t), rel=1e-6)


def test_pca_basis_finds_the_high_variance_plane():
    rng = np.random.default_rng(0)
    # variance 25 and 9 along e1 and e3, 0.01 elsewhere, plus an offset PCA must remove
    x = rng.normal(size=(2000, 5)) * np.array([0.1, 5.0, 0.1, 3.0, 0.1]) + 7.0
    basis = metrics.pca_basis(x, 2)
    assert basis.shape == (5, 2)
    assert basis.T @ basis == pytest.approx(np.eye(2), abs=1e-12)
    assert metrics.largest_principal_angle_deg(basis, np.eye(5)[:, [1, 3]]) < 1.0
    assert metrics.pca_basis(x, 9).shape == (5, 5)  # capped at D
