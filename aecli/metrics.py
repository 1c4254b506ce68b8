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
