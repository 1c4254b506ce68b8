"""Scores of a trained autoencoder's codes: probes, disentanglement and linear baselines.

Everything here works on plain NumPy arrays (codes (N, L), labels (N,), factors (N, F),
flattened data (N, D)), so each function can be checked against a closed form and reused
by any command. Nothing here imports torch.
"""

from __future__ import annotations

import numpy as np


def linear_probe_accuracy(
    train_codes: np.ndarray,
    train_labels: np.ndarray,
    test_codes: np.ndarray,
    test_labels: np.ndarray,
    max_iter: int = 1000,
) -> float:
    """Test accuracy of a multinomial logistic regression fit on the train codes.

    The codes are standardized with the train codes' mean and standard deviation first, so the
    (default, C = 1) L2 penalty treats every latent alike whatever its scale. lbfgs is
    deterministic: the same codes give the same accuracy.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    probe.fit(_as_2d(train_codes), np.asarray(train_labels))
    return float(probe.score(_as_2d(test_codes), np.asarray(test_labels)))


def knn_accuracy(
    train_codes: np.ndarray,
    train_labels: np.ndarray,
    test_codes: np.ndarray,
    test_labels: np.ndarray,
    k: int = 5,
) -> float:
    """Test accuracy of a k-nearest-neighbour vote (Euclidean, on the codes as they are).

    Not standardized: the code space's own geometry is what this probe measures, and an
    almost constant unit (a collapsed VAE latent) should not be blown up to unit variance.
    """
    from sklearn.neighbors import KNeighborsClassifier

    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    probe = KNeighborsClassifier(n_neighbors=min(int(k), len(train_codes)))
    probe.fit(_as_2d(train_codes), np.asarray(train_labels))
    return float(probe.score(_as_2d(test_codes), np.asarray(test_labels)))


def pca_basis(x: np.ndarray, num_components: int) -> np.ndarray:
    """Orthonormal basis (D, q) of the top-`num_components` principal subspace of the rows of `x`.

    The data are centered first; q is capped at min(N, D).
    """
    return fit_pca(x, num_components).components_.T


def fit_pca(x: np.ndarray, num_components: int):
    """scikit-learn PCA of the rows of `x` (flattened to (N, D)), exact and deterministic.

    `num_components` is capped at min(N, D) (a code wider than the data has nothing more to keep).
    """
    from sklearn.decomposition import PCA

    x = _as_2d(x).astype(np.float64, copy=False)
    num_components = int(min(num_components, *x.shape))
    # The covariance route is exact, and fast when N >> D (MNIST: 55000 x 784).
    solver = "covariance_eigh" if x.shape[0] > x.shape[1] else "full"
    return PCA(n_components=num_components, svd_solver=solver).fit(x)


def principal_angles_deg(basis_a: np.ndarray, basis_b: np.ndarray) -> np.ndarray:
    """Principal angles in degrees, largest first, between span(basis_a) and span(basis_b).

    The columns need not be orthonormal (a decoder's weight matrix will do). SciPy's
    algorithm uses sines for small angles, so nearly equal subspaces give accurate
    angles near 0 rather than arccos round-off.
    """
    from scipy.linalg import subspace_angles

    return np.degrees(subspace_angles(_as_2d(basis_a), _as_2d(basis_b)))


def largest_principal_angle_deg(basis_a: np.ndarray, basis_b: np.ndarray) -> float:
    """The largest principal angle (degrees) between two subspaces: 0 when one contains the
    other, 90 when some direction of the smaller one is orthogonal to all of the other."""
    return float(principal_angles_deg(basis_a, basis_b).max())


def _as_2d(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x.reshape(len(x), -1) if x.ndim != 2 else x


def pca_reconstruction_sse(pca, x: np.ndarray) -> float:
    """Squared error of a fitted PCA's reconstruction of the rows of `x`: summed over the data
    dimensions, averaged over the rows (the same units as an autoencoder's `recon_sse`)."""
    x = _as_2d(x)
    reconstruction = pca.inverse_transform(pca.transform(x))
    return float(((x - reconstruction) ** 2).sum(axis=1).mean())


def code_sparsity(codes: np.ndarray, threshold: float) -> float:
    """Fraction of code entries whose magnitude is below `threshold`."""
    return float((np.abs(_as_2d(codes)) < threshold).mean())


def factor_correlation(codes: np.ndarray, factors: np.ndarray, method: str = "spearman") -> np.ndarray:
    """|correlation| between every latent and every factor, shape (L, F).

    spearman: Pearson on ranks (ties share their mean rank), so any monotonic code of a
    factor scores 1. A constant latent correlates with nothing: 0, not NaN.
    """
    from scipy.stats import rankdata

    codes, factors = _as_2d(codes).astype(np.float64), _as_2d(factors).astype(np.float64)
    if method == "spearman":
        codes, factors = rankdata(codes, axis=0), rankdata(factors, axis=0)
    elif method != "pearson":
        raise ValueError(f"method must be 'spearman' or 'pearson', got {method!r}")
    a, b = _standardize(codes), _standardize(factors)
    return np.abs(a.T @ b) / len(codes)


def discretize(values: np.ndarray, num_bins: int) -> np.ndarray:
    """Each column cut into `num_bins` equal-width bins over its own range (as
    disentanglement_lib's histogram discretizer does); integer bin ids, same shape."""
    values = _as_2d(values)
    out = np.empty(values.shape, dtype=np.int64)
    for j in range(values.shape[1]):
        edges = np.histogram(values[:, j], num_bins)[1]
        out[:, j] = np.digitize(values[:, j], edges[:-1])
    return out


def mutual_information(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Mutual information (nats) between every binned latent and every binned factor, (L, F),
    and each binned factor's entropy, (F,)."""
    from sklearn.metrics import mutual_info_score

    binned_codes, binned_factors = discretize(codes, num_bins), discretize(factors, num_bins)
    info = np.array(
        [[mutual_info_score(c, f) for f in binned_factors.T] for c in binned_codes.T], dtype=np.float64
    ).reshape(binned_codes.shape[1], binned_factors.shape[1])
    entropy = np.array([mutual_info_score(f, f) for f in binned_factors.T], dtype=np.float64)
    return info, entropy


def mutual_info_gap(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20) -> float:
    """MIG (Chen et al. 2018) as disentanglement_lib computes it: latents and factors binned into
    `num_bins` equal-width bins; for each factor, the gap between the two latents with the most
    mutual information, divided by the factor's entropy; averaged over the factors.

    1 when each factor lives in one latent alone, 0 for noise or for a code that holds every
    factor twice. With a single latent the runner-up is taken to carry nothing. Factors with
    zero entropy (constant) are left out of the average.
    """
    info, entropy = mutual_information(codes, factors, num_bins)
    top = np.sort(info, axis=0)[::-1]
    runner_up = top[1] if len(top) > 1 else np.zeros_like(top[0])
    varying = entropy > 0
    if not varying.any():
        raise ValueError("every factor is constant; MIG is undefined")
    return float(np.mean((top[0] - runner_up)[varying] / entropy[varying]))


INACTIVE_SHARE = 0.01  # a latent is inactive when its variance is below 1% of the most varied latent's


def inactive_latents(codes: np.ndarray) -> list[int]:
    """The latents whose variance over `codes` (N, latent_dim) is below INACTIVE_SHARE of the
    largest latent variance (all of them when no latent varies): codes a decoder cannot read much from."""
    variance = np.asarray(codes, dtype=np.float64).var(axis=0)
    top = variance.max() if variance.size else 0.0
    return [int(i) for i in np.flatnonzero(variance <= INACTIVE_SHARE * top)] if top > 0 else list(range(variance.size))


def describe_factors(correlation: np.ndarray, factor_names: list[str] | tuple[str, ...]) -> list[str]:
    """Which latent carries which factor, in words, from the |correlation| matrix (L, F)."""
    correlation = np.asarray(correlation)
    num_latents = correlation.shape[0]
    lines = []
    for j, name in enumerate(factor_names):
        order = np.argsort(-correlation[:, j], kind="stable")
        best = order[0]
        value = correlation[best, j]
        strength = "clearly" if value >= 0.9 else "mostly" if value >= 0.6 else "weakly" if value >= 0.3 else None
        if strength is None:
            text = f"{name}: no latent carries it (best z{best}, |corr| {value:.2f})"
        else:
            text = f"{name} is {strength} carried by z{best} (|corr| {value:.2f})"
        if num_latents > 1:
            text += f"; next z{order[1]} ({correlation[order[1], j]:.2f})"
        lines.append(text)
    for i in range(num_latents):
        if correlation[i].max() < 0.3:
            lines.append(f"z{i} carries no factor (largest |corr| {correlation[i].max():.2f})")
        elif (correlation[i] >= 0.6).sum() > 1:
            mixed = " and ".join(n for n, v in zip(factor_names, correlation[i]) if v >= 0.6)
            lines.append(f"z{i} mixes {mixed}")
    return lines


def _standardize(x: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=0)
    centered = x - mean
    std = centered.std(axis=0)
    # A constant column can keep round-off after centering; treat it as constant.
    varying = std > 1e-12 * np.maximum(1.0, np.abs(mean))
    return np.divide(centered, std, out=np.zeros_like(centered), where=varying)
