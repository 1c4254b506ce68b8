"""The training split's spectrum: one eigendecomposition serving PCA and PPCA, exact against the
covariance's own and scikit-learn's PCA (more samples than dimensions, and fewer), and cached
per split."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from sklearn.decomposition import PCA

from aecli.evaluation import spectrum as spectrum_module
from aecli.evaluation.ppca import PPCA, ppca_nll, ppca_of_spectrum
from aecli.evaluation.spectrum import cached_spectrum, spectrum_of


def data(rows: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(rows, 3)) @ rng.normal(size=(3, dim)) + 0.3 * rng.normal(size=(rows, dim)) + 2.0).astype(np.float32)


@pytest.mark.parametrize("rows, dim", [(200, 12), (9, 40)], ids=["N>D", "N<D"])
def test_the_spectrum_is_the_covariances_and_gives_pcas_error(rows, dim):
    x = data(rows, dim)
    found = spectrum_of(x)
    centered = x.astype(np.float64) - x.mean(axis=0, dtype=np.float64)
    expected = np.sort(np.linalg.eigvalsh(centered.T @ centered / rows))[::-1]
    np.testing.assert_allclose(found.eigenvalues, expected[: len(found.eigenvalues)], rtol=1e-9, atol=1e-9)
    assert np.allclose(expected[len(found.eigenvalues):], 0.0, atol=1e-9)
    held_out = data(50, dim, seed=1)
    for k in (1, 3, min(rows - 1, dim)):  # up to the data's rank (N - 1 when N <= D)
        pca = PCA(n_components=k, svd_solver="full").fit(x.astype(np.float64))
        by_sklearn = float(((held_out - pca.inverse_transform(pca.transform(held_out))) ** 2).sum(axis=1).mean())
        assert found.reconstruction_sse(held_out, k) == pytest.approx(by_sklearn, rel=1e-7)


def test_ppca_from_fewer_samples_than_dimensions_matches_the_full_covariance_formula():
    x, latent_dim = data(9, 40), 2
    centered = x.astype(np.float64) - x.mean(axis=0, dtype=np.float64)
    values, vectors = np.linalg.eigh(centered.T @ centered / len(x))
    values, vectors = np.clip(values[::-1], 0, None), vectors[:, ::-1]
    sigma2 = values[latent_dim:].mean()
    expected = PPCA(x.mean(axis=0, dtype=np.float64), vectors[:, :latent_dim] * np.sqrt(values[:latent_dim] - sigma2), sigma2)
    found = ppca_of_spectrum(spectrum_of(x), latent_dim)
    assert found.sigma2 == pytest.approx(sigma2, rel=1e-9)
    held_out = data(30, 40, seed=2)
    assert ppca_nll(found, held_out) == pytest.approx(ppca_nll(expected, held_out), rel=1e-9)


def test_a_spectrum_is_computed_once_per_split_and_a_cache_that_cannot_be_written_is_skipped(tmp_path, monkeypatch, caplog):
    x = data(100, 8)
    first = cached_spectrum(x, tmp_path / "spectra")
    assert len(list((tmp_path / "spectra").glob("*.npz"))) == 1
    monkeypatch.setattr(spectrum_module, "spectrum_of", lambda x: pytest.fail("decomposed again"))
    again = cached_spectrum(x, tmp_path / "spectra")
    assert np.array_equal(again.eigenvectors, first.eigenvectors)
    monkeypatch.undo()
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="aecli"):
        third = cached_spectrum(data(100, 8, seed=3), blocked / "spectra")
    assert "could not be cached" in caplog.text and third.dim == 8
