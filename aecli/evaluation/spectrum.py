"""The spectrum of a training split: its mean and the eigendecomposition of its covariance
(normalised by N, float64), from which PCA with any number of components and PPCA with any latent
size follow exactly (aecli.evaluation.ppca), one decomposition for both.

`aecli evaluate` asks for it once per run, and it is cached per training split in the per-user
cache folder ($AECLI_CACHE_DIR, else $XDG_CACHE_HOME/aecli or ~/.cache/aecli, under spectra/),
keyed by a hash of the samples themselves: the second evaluate on the same data (another run on
MNIST, or the same run again) reads it instead of decomposing again. With fewer samples than
dimensions (a small image folder) the N x N Gram matrix is decomposed instead of the D x D
covariance: the same nonzero eigenvalues, the rest zero (and their directions zero columns: PCA
with more components than the data's rank keeps the rank's subspace).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aecli.data.decode_cache import cache_root

log = logging.getLogger("aecli")

# Rows per chunk of float64 work: bounds the temporaries (4096 x 3072 is 100 MB).
_CHUNK_ROWS = 4096


@dataclass(frozen=True)
class Spectrum:
    """mean (D,); eigenvalues (r,), largest first, r = min(N, D) (the other D - r are zero);
    eigenvectors (D, r), orthonormal columns in the same order."""

    mean: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray

    @property
    def dim(self) -> int:
        return len(self.mean)

    def components(self, count: int) -> np.ndarray:
        """The top `count` principal directions as columns (D, k), k capped at r."""
        return self.eigenvectors[:, : min(count, len(self.eigenvalues))]

    def reconstruction_sse(self, x: np.ndarray, count: int) -> float:
        """Squared error of PCA's reconstruction with `count` components of the rows of `x` (flattened
        to (M, D)): summed over the data dimensions, averaged over the rows (an autoencoder's units)."""
        x = np.asarray(x).reshape(len(x), -1)
        basis = self.components(count)
        total = 0.0
        for start in range(0, len(x), _CHUNK_ROWS):
            centered = x[start : start + _CHUNK_ROWS].astype(np.float64) - self.mean
            residual = centered - (centered @ basis) @ basis.T
            total += float((residual**2).sum())
        return total / len(x)


def spectrum_of(x: np.ndarray) -> Spectrum:
    """The spectrum of the rows of `x` (N, ...; flattened to (N, D))."""
    x = np.asarray(x).reshape(len(x), -1)
    num, dim = x.shape
    mean = np.zeros(dim)
    for start in range(0, num, _CHUNK_ROWS):
        mean += x[start : start + _CHUNK_ROWS].astype(np.float64).sum(axis=0)
    mean /= num
    if num >= dim:
        covariance = np.zeros((dim, dim))
        for start in range(0, num, _CHUNK_ROWS):
            centered = x[start : start + _CHUNK_ROWS].astype(np.float64) - mean
            covariance += centered.T @ centered
        eigenvalues, eigenvectors = np.linalg.eigh(covariance / num)
    else:  # fewer samples than dimensions: the Gram matrix's eigenvectors, mapped back
        centered = x.astype(np.float64) - mean
        gram_values, gram_vectors = np.linalg.eigh(centered @ centered.T / num)
        eigenvalues = gram_values
        # Directions of (round-off) zero variance have no eigenvector to map back: left as zero columns.
        kept = gram_values > 1e-10 * max(gram_values.max(), 0.0)
        norms = np.sqrt(np.where(kept, gram_values, 1.0) * num)
        eigenvectors = np.where(kept, centered.T @ gram_vectors / norms, 0.0)
    # eigh sorts ascending; round-off can leave tiny negative eigenvalues of a PSD matrix.
    return Spectrum(mean, np.clip(eigenvalues[::-1], 0.0, None), np.ascontiguousarray(eigenvectors[:, ::-1]))


def cached_spectrum(x: np.ndarray, folder: Path | None = None) -> Spectrum:
    """`spectrum_of(x)`, read from the cache when these very samples were decomposed before, else
    computed and written there (a cache that cannot be written is said in one log line and skipped:
    the figures are the same either way)."""
    x = np.ascontiguousarray(np.asarray(x).reshape(len(x), -1))
    folder = cache_folder() if folder is None else folder
    digest = hashlib.blake2b(memoryview(x).cast("B"), digest_size=16)
    digest.update(f"{x.shape}{x.dtype}".encode())
    path = folder / f"{digest.hexdigest()}.npz"
    if path.is_file():
        try:
            with np.load(path) as saved:
                return Spectrum(saved["mean"], saved["eigenvalues"], saved["eigenvectors"])
        except (OSError, ValueError, KeyError):  # a damaged cache file: computed again below, and replaced
            pass
    found = spectrum_of(x)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(partial, "wb") as handle:
            np.savez(handle, mean=found.mean, eigenvalues=found.eigenvalues, eigenvectors=found.eigenvectors)
        partial.replace(path)
    except OSError as error:
        log.warning("the PCA spectrum could not be cached in %s (%s); the next evaluate computes it again", folder,
                    error.strerror or error)
    return found


def cache_folder() -> Path:
    """Where spectra are cached: $AECLI_CACHE_DIR, else the per-user cache folder, under spectra/."""
    return cache_root() / "spectra"
