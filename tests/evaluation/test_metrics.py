"""aecli.evaluation.metrics against closed forms and brute force."""

from __future__ import annotations

import numpy as np
import pytest

from aecli.evaluation import metrics


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


def test_knn_votes_among_the_nearest_codes():
    train = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    test = np.array([[0.5], [11.5], [5.0], [7.0]])
    # k=1: 5.0 is nearest to 2.0 (class 0), 7.0 nearest to 10.0 (class 1)
    assert metrics.knn_accuracy(train, labels, test, np.array([0, 1, 0, 1]), k=1) == 1.0
    assert metrics.knn_accuracy(train, labels, test, np.array([0, 1, 1, 1]), k=1) == 0.75
    # k=5: 7.0 sees 10, 11, 12 against 2, 1: class 1 wins; 5.0 sees 2, 1, 0 against 10, 11: class 0
    assert metrics.knn_accuracy(train, labels, test, np.array([0, 1, 0, 1]), k=5) == 1.0


def test_pca_reconstruction_error_is_the_discarded_variance():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6)) + 3.0
    centered = x - x.mean(0)
    eigenvalues = np.linalg.eigvalsh(centered.T @ centered / len(x))  # ascending
    for q in (1, 3, 5):
        pca = metrics.fit_pca(x, q)
        assert metrics.pca_reconstruction_sse(pca, x) == pytest.approx(eigenvalues[: 6 - q].sum(), rel=1e-9)
    assert metrics.pca_reconstruction_sse(metrics.fit_pca(x, 6), x) == pytest.approx(0.0, abs=1e-12)


def test_pca_of_data_in_a_plane_reconstructs_new_points_in_that_plane_exactly():
    rng = np.random.default_rng(1)
    plane = rng.normal(size=(2, 10))
    train, test = rng.normal(size=(300, 2)) @ plane + 1.0, rng.normal(size=(50, 2)) @ plane + 1.0
    assert metrics.pca_reconstruction_sse(metrics.fit_pca(train, 2), test) == pytest.approx(0.0, abs=1e-18)
    assert metrics.pca_reconstruction_sse(metrics.fit_pca(train, 1), test) > 1.0


def test_code_sparsity_counts_small_entries():
    codes = np.array([[0.0, 0.5, -0.001], [2.0, -0.2, 0.009]])
    assert metrics.code_sparsity(codes, 0.01) == pytest.approx(3 / 6)
    assert metrics.code_sparsity(codes, 1.0) == pytest.approx(5 / 6)


def test_factor_correlation_matches_scipy_and_handles_monotonic_and_constant_latents():
    from scipy.stats import pearsonr, spearmanr

    rng = np.random.default_rng(0)
    factors = rng.uniform(size=(300, 2))
    codes = np.stack([np.exp(5 * factors[:, 1]), -factors[:, 0] + 0.3 * rng.normal(size=300), np.full(300, 4.2)], 1)
    spearman = metrics.factor_correlation(codes, factors)
    pearson = metrics.factor_correlation(codes, factors, method="pearson")
    assert spearman.shape == (3, 2)
    for i in range(2):
        for j in range(2):
            assert spearman[i, j] == pytest.approx(abs(spearmanr(codes[:, i], factors[:, j])[0]), abs=1e-12)
            assert pearson[i, j] == pytest.approx(abs(pearsonr(codes[:, i], factors[:, j])[0]), abs=1e-12)
    assert spearman[0, 1] == pytest.approx(1.0)  # monotonic: perfect rank correlation
    assert pearson[0, 1] < 0.95  # but not linear
    assert np.all(spearman[2] == 0.0) and np.all(pearson[2] == 0.0)  # constant latent


def test_mutual_information_matches_the_contingency_table():
    rng = np.random.default_rng(0)
    factors = rng.uniform(size=(2000, 1))
    codes = factors + 0.05 * rng.normal(size=(2000, 1))
    info, entropy = metrics.mutual_information(codes, factors, num_bins=20)
    a, b = metrics.discretize(codes, 20)[:, 0], metrics.discretize(factors, 20)[:, 0]
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1.0)
    joint /= joint.sum()
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    assert info[0, 0] == pytest.approx((joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum(), rel=1e-9)
    assert entropy[0] == pytest.approx(-(pb[pb > 0] * np.log(pb[pb > 0])).sum(), rel=1e-9)
    assert metrics.discretize(factors, 20).min() == 1 and metrics.discretize(factors, 20).max() == 20


def test_mig_sanity_cases_of_disentanglement_lib():
    rng = np.random.default_rng(0)
    factors = rng.uniform(size=(5000, 3))
    # Codes equal to the factors: 1 less the finite-sample MI between independent binned
    # factors (the runner-up), about (20 - 1)^2 / (2 N) nats over log 20 nats, i.e. 0.012.
    identity = metrics.mutual_info_gap(factors, factors)
    assert 0.98 < identity < 1.0
    scaled = factors[:, [2, 0, 1]] * np.array([3.0, -1.0, 10.0]) + 5.0  # permuted, rescaled, flipped
    assert metrics.mutual_info_gap(scaled, factors) == pytest.approx(identity)
    assert metrics.mutual_info_gap(rng.normal(size=(5000, 3)), factors) < 0.05  # noise codes
    assert metrics.mutual_info_gap(np.hstack([factors, factors]), factors) == pytest.approx(0.0)  # duplicated
    assert metrics.mutual_info_gap(np.zeros((5000, 3)), factors) == pytest.approx(0.0)  # constant codes
    # one latent holding the sum of two factors: informative about both, alone on neither
    mixed = np.stack([factors[:, 0] + factors[:, 1], rng.normal(size=5000), factors[:, 2]], 1)
    assert 0.3 < metrics.mutual_info_gap(mixed, factors) < 0.8


def test_mig_with_one_latent_gaps_against_nothing():
    rng = np.random.default_rng(0)
    factors = rng.uniform(size=(3000, 2))
    # the latent is factor 0 exactly: gap 1 for it, about 0 (finite-sample MI) for factor 1
    assert metrics.mutual_info_gap(factors[:, :1], factors) == pytest.approx(0.5, abs=0.03)


def test_describe_factors_names_the_carrier_in_words():
    correlation = np.array([[0.05, 0.97], [0.92, 0.10], [0.02, 0.04]])
    lines = metrics.describe_factors(correlation, ("a", "b"))
    assert lines[0] == "a is clearly carried by z1 (|corr| 0.92); next z0 (0.05)"
    assert lines[1] == "b is clearly carried by z0 (|corr| 0.97); next z1 (0.10)"
    assert "z2 carries no factor (largest |corr| 0.04)" in lines
    mixed = metrics.describe_factors(np.array([[0.7, 0.65], [0.1, 0.2]]), ("k", "b"))
    assert "z0 mixes k and b" in mixed
    assert mixed[1].startswith("b is mostly carried by z0")


def test_inactive_latents_are_those_that_hardly_vary():
    from aecli.evaluation.metrics import inactive_latents

    rng = np.random.default_rng(0)
    codes = np.stack([rng.normal(0, 1.0, 500), rng.normal(0, 0.01, 500), rng.normal(3, 0.5, 500)], axis=1)
    assert inactive_latents(codes) == [1]
    assert inactive_latents(np.zeros((10, 2))) == [0, 1]
