"""Probabilistic PCA (Tipping & Bishop 1999): the linear-Gaussian baseline for a VAE's likelihood.

The model is x = W z + mean + noise, z ~ N(0, I_q), noise ~ N(0, sigma2 I_D), so
x ~ N(mean, W W^T + sigma2 I_D). Its maximum-likelihood fit is closed-form from the sample
covariance S (normalised by N, the ML estimate) with eigenvalues l_1 >= ... >= l_D and
eigenvectors U:

    sigma2 = mean(l_{q+1}, ..., l_D)          (the variance the q-dim subspace leaves out)
    W      = U_q (L_q - sigma2 I)^(1/2)       (up to a rotation on the right, which changes nothing)

A linear VAE with a learned Gaussian decoder has PPCA's likelihood as its optimum, so
`ppca_nll` is the number its `nll_iw` should approach. NumPy/SciPy only, float64 throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aecli.evaluation.spectrum import Spectrum, spectrum_of

# Rows scored at once: bounds the (rows, D) float64 temporaries (4096 x 3072 is 100 MB).
_CHUNK_ROWS = 4096


@dataclass(frozen=True)
class PPCA:
    """A fitted PPCA: mean (D,), weight W (D, q), noise variance sigma2 (> 0, data units squared)."""

    mean: np.ndarray
    weight: np.ndarray
    sigma2: float

    @property
    def latent_dim(self) -> int:
        return int(self.weight.shape[1])

    def covariance(self) -> np.ndarray:
        """The model's covariance W W^T + sigma2 I, (D, D)."""
        return self.weight @ self.weight.T + self.sigma2 * np.eye(len(self.mean))


def fit_ppca(x: np.ndarray, latent_dim: int, sigma2_floor_ratio: float = 1e-6) -> PPCA:
    """The closed-form maximum-likelihood PPCA of the rows of `x` (N, D; other shapes are
    flattened to (N, D)) with 1 <= latent_dim < D.

    Data that lie exactly in an affine subspace of dimension <= latent_dim (a code at least as
    wide as the data's rank) leave nothing for the noise: the ML sigma2 is 0 (round-off aside)
    and the density degenerate. sigma2 is then held at `sigma2_floor_ratio` times the average variance
    per dimension (trace(S) / D), a scale-free floor, and a retained direction with less
    variance than the floor gets a zero column in W (the ML W for that sigma2). Elsewhere the
    floor, 1e-6 of the typical variance, is far below the ML sigma2 and changes nothing.
    """
    x = np.asarray(x)
    data_dim = int(np.prod(x.shape[1:]))
    if not 1 <= latent_dim < data_dim:
        raise ValueError(
            f"PPCA needs 1 <= latent_dim < data dimension {data_dim}, got latent_dim={latent_dim} "
            "(with latent_dim = D the noise variance is undefined: the model is a full Gaussian)"
        )
    return ppca_of_spectrum(spectrum_of(x), latent_dim, sigma2_floor_ratio)


def ppca_of_spectrum(spectrum: Spectrum, latent_dim: int, sigma2_floor_ratio: float = 1e-6) -> PPCA:
    """The ML PPCA (see `fit_ppca`) from a training split's spectrum (aecli.evaluation.spectrum):
    the eigenvalues past the r it holds are zero."""
    data_dim, kept = spectrum.dim, len(spectrum.eigenvalues)
    total = float(spectrum.eigenvalues.sum())
    floor = sigma2_floor_ratio * total / data_dim
    if not floor > 0:
        raise ValueError("the data do not vary (every dimension is constant); PPCA has nothing to fit")
    left_out = float(spectrum.eigenvalues[min(latent_dim, kept):].sum())  # the zeros past r add nothing
    sigma2 = max(left_out / (data_dim - latent_dim), floor)
    top = np.zeros(latent_dim)
    top[: min(latent_dim, kept)] = spectrum.eigenvalues[:latent_dim]
    vectors = np.zeros((data_dim, latent_dim))
    vectors[:, : min(latent_dim, kept)] = spectrum.eigenvectors[:, :latent_dim]
    return PPCA(mean=spectrum.mean, weight=vectors * np.sqrt(np.clip(top - sigma2, 0.0, None)), sigma2=sigma2)


def ppca_log_likelihood(ppca: PPCA, x: np.ndarray) -> np.ndarray:
    """log N(x_n; mean, W W^T + sigma2 I) of each row of `x` (N, D), nats, (N,).

    Works in the q-dim span of W and never forms the D x D covariance: with W = Q R (thin QR),
    C = Q (R R^T + sigma2 I) Q^T + sigma2 (I - Q Q^T), so log|C| = log|R R^T + sigma2 I| +
    (D - q) log sigma2 (the matrix determinant lemma), and the Mahalanobis term splits into the
    part along span(W) (a q x q Cholesky solve) and the residual across it divided by sigma2.
    The residual is formed explicitly rather than as |r|^2 - |Q^T r|^2, which would cancel
    catastrophically when sigma2 is small. Any W will do, not only a fitted one.
    """
    x = np.asarray(x, dtype=np.float64)
    x = x.reshape(len(x), -1)
    data_dim = len(ppca.mean)
    if x.shape[1] != data_dim:
        raise ValueError(f"PPCA was fit on {data_dim}-dimensional data, got rows of {x.shape[1]}")
    from scipy.linalg import solve_triangular

    basis, triangle = np.linalg.qr(np.asarray(ppca.weight, dtype=np.float64))
    span_dim = basis.shape[1]
    chol = np.linalg.cholesky(triangle @ triangle.T + ppca.sigma2 * np.eye(span_dim))
    log_det = 2.0 * np.log(np.diag(chol)).sum() + (data_dim - span_dim) * math.log(ppca.sigma2)
    constant = data_dim * math.log(2.0 * math.pi) + log_det
    log_likelihood = np.empty(len(x))
    for start in range(0, len(x), _CHUNK_ROWS):
        centered = x[start : start + _CHUNK_ROWS] - ppca.mean
        along = centered @ basis
        across = centered - along @ basis.T
        whitened = solve_triangular(chol, along.T, lower=True)
        mahalanobis = (whitened**2).sum(axis=0) + (across**2).sum(axis=1) / ppca.sigma2
        log_likelihood[start : start + _CHUNK_ROWS] = -0.5 * (constant + mahalanobis)
    return log_likelihood


def ppca_nll(ppca: PPCA, x: np.ndarray) -> float:
    """Negative log-likelihood of the rows of `x` (N, D) under the PPCA, nats per sample
    (summed over the D dimensions, averaged over the N rows: the units of a VAE's `nll_iw`)."""
    return float(-ppca_log_likelihood(ppca, x).mean())
