"""Anomaly detection's scores: the AUROC of a score as a detector of anomalies, and its ROC curve.

The rest of the downstream toolkit lives beside this module, one concept per file: `probes`
(few-label linear probes), `ppca` (the PPCA likelihood baseline), `finetuning` (aecli finetune's
comparison, on `aecli.engine.finetune`) and `downstream` (what aecli evaluate runs of them).

NumPy and scikit-learn only; nothing here imports torch.
"""

from __future__ import annotations

import numpy as np


def _checked_scores(scores: np.ndarray, is_anomaly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    is_anomaly = np.asarray(is_anomaly).reshape(-1).astype(bool)
    if len(scores) != len(is_anomaly):
        raise ValueError(f"{len(scores)} scores but {len(is_anomaly)} anomaly flags")
    if not np.isfinite(scores).all():
        raise ValueError("anomaly scores must be finite; a NaN or infinite score cannot be ranked")
    if is_anomaly.all() or not is_anomaly.any():
        raise ValueError("AUROC needs both normal and anomalous samples; only one kind is present")
    return scores, is_anomaly


def anomaly_auroc(scores: np.ndarray, is_anomaly: np.ndarray) -> float:
    """Area under the ROC curve of `scores` (N,) as a detector of `is_anomaly` (N,) bools.

    Higher score = more anomalous (a reconstruction error, a negative ELBO). Equals the chance
    that a random anomaly outscores a random normal sample, ties counting one half: 1 is a
    perfect detector, 0.5 is chance, below 0.5 the score is backwards.
    """
    from sklearn.metrics import roc_auc_score

    scores, is_anomaly = _checked_scores(scores, is_anomaly)
    return float(roc_auc_score(is_anomaly, scores))


def knn_distance_scores(train_codes: np.ndarray, test_codes: np.ndarray, k: int) -> np.ndarray:
    """Each test code's mean Euclidean distance to its `k` nearest training codes: far from every
    code the model saw is anomalous, whatever the reconstruction (a simple digit reconstructs
    well even from a model of another digit)."""
    from sklearn.neighbors import NearestNeighbors

    train = np.asarray(train_codes, dtype=np.float64).reshape(len(train_codes), -1)
    test = np.asarray(test_codes, dtype=np.float64).reshape(len(test_codes), -1)
    distances, _ = NearestNeighbors(n_neighbors=min(k, len(train))).fit(train).kneighbors(test)
    return distances.mean(axis=1)


def mahalanobis_scores(train_codes: np.ndarray, test_codes: np.ndarray, ridge: float = 1e-6) -> np.ndarray:
    """Each test code's squared Mahalanobis distance to the training codes' mean under their
    covariance (a ridge of `ridge` times its mean variance keeps it invertible): a Gaussian fit
    of the normal class in code space, its negative log-density up to constants."""
    train = np.asarray(train_codes, dtype=np.float64).reshape(len(train_codes), -1)
    test = np.asarray(test_codes, dtype=np.float64).reshape(len(test_codes), -1)
    mean = train.mean(axis=0)
    covariance = np.atleast_2d(np.cov(train, rowvar=False))
    covariance += np.eye(len(covariance)) * ridge * max(float(np.trace(covariance)) / len(covariance), 1e-12)
    centred = test - mean
    return np.einsum("ij,ij->i", centred @ np.linalg.inv(covariance), centred)


def roc_curve_points(scores: np.ndarray, is_anomaly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ROC curve for a figure: (false_positive_rate, true_positive_rate), each (P,) from
    (0, 0) to (1, 1), one point per distinct threshold (collinear points dropped). The
    trapezoid area under it is `anomaly_auroc`."""
    from sklearn.metrics import roc_curve

    scores, is_anomaly = _checked_scores(scores, is_anomaly)
    false_positive_rate, true_positive_rate, _ = roc_curve(is_anomaly, scores)
    return false_positive_rate, true_positive_rate
