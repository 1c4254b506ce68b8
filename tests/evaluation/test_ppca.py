"""PPCA against brute-force Gaussian likelihoods and Tipping & Bishop's closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal, ortho_group

from aecli.evaluation.ppca import PPCA, fit_ppca, ppca_log_likelihood, ppca_nll


def gaussian_data(num_samples: int, data_dim: int, seed: int) -> np.ndarray:
    """Correlated, shifted, anisotropic data: a random mixing of unit Gaussians."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(data_dim, data_dim)) * np.linspace(3.0, 0.2, data_dim)
    return rng.normal(size=(num_samples, data_dim)) @ mixing.T + rng.normal(size=data_dim) * 5


def brute_force_nll(ppca: PPCA, x: np.ndarray) -> float:
    return float(-multivariate_normal(ppca.mean, ppca.covariance()).logpdf(x).mean())


def test_nll_matches_scipy_on_held_out_data():
    train, test = gaussian_data(400, 7, seed=0), gaussian_data(100, 7, seed=1)
    ppca = fit_ppca(train, latent_dim=3)
    assert ppca_nll(ppca, test) == pytest.approx(brute_force_nll(ppca, test), rel=1e-12)
    per_sample = multivariate_normal(ppca.mean, ppca.covariance()).logpdf(test)
    np.testing.assert_allclose(ppca_log_likelihood(ppca, test), per_sample, rtol=1e-12)


def test_nll_matches_scipy_for_any_weight_not_only_a_fitted_one():
    """Non-orthogonal columns, a zero column: the q-dim route still gives the Gaussian density."""
    rng = np.random.default_rng(2)
    weight = rng.normal(size=(6, 3))
    weight[:, 1] = 0.0
    ppca = PPCA(mean=rng.normal(size=6), weight=weight, sigma2=0.3)
    x = rng.normal(size=(50, 6)) * 2
    assert ppca_nll(ppca, x) == pytest.approx(brute_force_nll(ppca, x), rel=1e-12)


def test_nll_scores_in_chunks_like_all_at_once(monkeypatch):
    import aecli.evaluation.ppca as module

    train, test = gaussian_data(200, 5, seed=3), gaussian_data(37, 5, seed=4)
    ppca = fit_ppca(train, latent_dim=2)
    whole = ppca_log_likelihood(ppca, test)
    monkeypatch.setattr(module, "_CHUNK_ROWS", 8)
    np.testing.assert_allclose(ppca_log_likelihood(ppca, test), whole, rtol=1e-14)


def test_train_nll_is_tipping_and_bishops_closed_form():
    """At the ML fit, NLL = (D log 2 pi + sum_{i<=q} log l_i + (D - q) log sigma2 + D) / 2."""
    x = gaussian_data(300, 8, seed=5)
    eigenvalues = np.sort(np.linalg.eigvalsh(np.cov(x.T, bias=True)))[::-1]
    for latent_dim in (1, 3, 7):
        ppca = fit_ppca(x, latent_dim)
        sigma2 = eigenvalues[latent_dim:].mean()
        assert ppca.sigma2 == pytest.approx(sigma2, rel=1e-12)
        expected = 0.5 * (
            8 * math.log(2 * math.pi) + np.log(eigenvalues[:latent_dim]).sum() + (8 - latent_dim) * math.log(sigma2) + 8
        )
        assert ppca_nll(ppca, x) == pytest.approx(expected, rel=1e-12)


def test_the_closed_form_is_the_maximum_of_the_training_likelihood():
    x = gaussian_data(300, 6, seed=6)
    ppca = fit_ppca(x, latent_dim=2)
    best = ppca_nll(ppca, x)
    rng = np.random.default_rng(7)
    perturbed = [
        PPCA(ppca.mean, ppca.weight, ppca.sigma2 * 1.05),
        PPCA(ppca.mean, ppca.weight, ppca.sigma2 * 0.95),
        PPCA(ppca.mean, ppca.weight * 1.02, ppca.sigma2),
        PPCA(ppca.mean, ppca.weight * 0.98, ppca.sigma2),
        PPCA(ppca.mean + 0.05, ppca.weight, ppca.sigma2),
    ] + [PPCA(ppca.mean, ppca.weight + 0.05 * rng.normal(size=ppca.weight.shape), ppca.sigma2) for _ in range(5)]
    for other in perturbed:
        assert ppca_nll(other, x) > best + 1e-6
    # W is identified only up to a rotation of the latent space: W R has the same likelihood.
    rotated = PPCA(ppca.mean, ppca.weight @ ortho_group.rvs(2, random_state=8), ppca.sigma2)
    assert ppca_nll(rotated, x) == pytest.approx(best, rel=1e-12)


def test_one_latent_short_of_the_data_dimension_is_the_full_ml_gaussian():
    """q = D - 1: sigma2 is the smallest eigenvalue and W W^T + sigma2 I is the sample covariance."""
    x = gaussian_data(200, 5, seed=9)
    ppca = fit_ppca(x, latent_dim=4)
    np.testing.assert_allclose(ppca.covariance(), np.cov(x.T, bias=True), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ppca.mean, x.mean(axis=0))


@pytest.mark.parametrize("latent_dim", [0, 5, 6])
def test_latent_dim_outside_1_to_d_minus_1_is_refused(latent_dim):
    with pytest.raises(ValueError, match="1 <= latent_dim < data dimension 5"):
        fit_ppca(gaussian_data(50, 5, seed=0), latent_dim)


def test_nll_follows_a_change_of_units_exactly():
    """Scaling the data by a multiplies densities by a^-D: NLL rises by D log a, at any offset."""
    train, test = gaussian_data(300, 6, seed=10), gaussian_data(60, 6, seed=11)
    base = ppca_nll(fit_ppca(train, 2), test)
    scale, shift = 1e3, 1e6
    moved = ppca_nll(fit_ppca(train * scale + shift, 2), test * scale + shift)
    assert moved == pytest.approx(base + 6 * math.log(scale), rel=1e-9)


def test_exactly_low_rank_data_hold_sigma2_at_the_floor():
    """Data on a 2-D plane in 5-D: the ML noise variance is 0, so sigma2 sits at the floor, the
    likelihood stays finite, and points off the plane are (very) unlikely."""
    rng = np.random.default_rng(12)
    plane = np.linalg.qr(rng.normal(size=(5, 2)))[0]
    x = rng.normal(size=(300, 2)) * [3.0, 1.0] @ plane.T + 2.0
    average_variance = np.cov(x.T, bias=True).trace() / 5
    for latent_dim in (2, 3):  # exactly the rank, and wider than the rank
        ppca = fit_ppca(x, latent_dim, sigma2_floor_ratio=1e-6)
        assert ppca.sigma2 == pytest.approx(1e-6 * average_variance, rel=1e-6)
        assert np.isfinite(ppca_nll(ppca, x))
        # The plane keeps its own covariance, the floor fills the other directions, and a
        # latent beyond the rank gets a zero column.
        off_plane_projector = np.eye(5) - plane @ plane.T
        expected = np.cov(x.T, bias=True) + ppca.sigma2 * off_plane_projector
        np.testing.assert_allclose(ppca.covariance(), expected, atol=1e-12)
        assert (np.linalg.norm(ppca.weight, axis=0) > 0.5).sum() == 2
    off_plane = x[:10] + 0.1 * np.linalg.svd(plane.T)[2][-1]
    assert ppca_nll(ppca, off_plane) > ppca_nll(ppca, x[:10]) + 1000


def test_constant_data_are_refused():
    with pytest.raises(ValueError, match="do not vary"):
        fit_ppca(np.ones((20, 4)), latent_dim=2)


def test_rows_of_another_dimension_are_refused():
    ppca = fit_ppca(gaussian_data(50, 5, seed=0), 2)
    with pytest.raises(ValueError, match="5-dimensional"):
        ppca_nll(ppca, np.zeros((3, 6)))
