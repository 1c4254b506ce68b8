"""What the codes are good for, beyond reconstruction: anomaly scores and interpolations.

The rest of the downstream toolkit lives beside this module, one concept per file:
`probes` (few-label linear probes), `ppca` (the PPCA likelihood baseline), `finetuning`
(aecli finetune's comparison, on `aecli.engine.finetune`) and `downstream` (what aecli
evaluate runs of them).

NumPy and scikit-learn only; nothing here imports torch.
"""

from __future__ import annotations

import numpy as np

# Below this sine of the angle between two codes the great circle through them is not
# defined well enough to follow (float64 round-off in the angle is ~1e-8 near 0 and pi).
_PARALLEL_SINE = 1e-7


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


def roc_curve_points(scores: np.ndarray, is_anomaly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ROC curve for a figure: (false_positive_rate, true_positive_rate), each (P,) from
    (0, 0) to (1, 1), one point per distinct threshold (collinear points dropped). The
    trapezoid area under it is `anomaly_auroc`."""
    from sklearn.metrics import roc_curve

    scores, is_anomaly = _checked_scores(scores, is_anomaly)
    false_positive_rate, true_positive_rate, _ = roc_curve(is_anomaly, scores)
    return false_positive_rate, true_positive_rate


def interpolate_codes(z_a: np.ndarray, z_b: np.ndarray, steps: int) -> np.ndarray:
    """`steps` codes evenly spaced on the straight line from z_a to z_b, (steps, L), endpoints
    included. z_a and z_b are single codes of L values."""
    z_a, z_b, fractions = _endpoints(z_a, z_b, steps)
    return _straight(z_a, z_b, fractions)


def slerp_codes(z_a: np.ndarray, z_b: np.ndarray, steps: int) -> np.ndarray:
    """`steps` codes on the spherical interpolation (slerp) from z_a to z_b, (steps, L),
    endpoints included.

    For codes from a Gaussian prior: the straight line's midpoint between two typical codes
    is shorter than either (in L dims typical codes have norm ~ sqrt(L)), a region the decoder
    rarely saw; slerp keeps the norm when |z_a| = |z_b| (White 2016, "Sampling generative
    networks"). With unequal norms it is the same formula on the raw vectors. Codes (nearly)
    parallel or opposite, or a zero code, have no well-defined great circle: the straight
    line is returned instead.
    """
    z_a, z_b, fractions = _endpoints(z_a, z_b, steps)
    norms = np.linalg.norm(z_a) * np.linalg.norm(z_b)
    angle = np.arccos(np.clip(z_a @ z_b / norms, -1.0, 1.0)) if norms > 0 else 0.0
    if np.sin(angle) < _PARALLEL_SINE:
        return _straight(z_a, z_b, fractions)
    return (np.sin((1.0 - fractions) * angle) * z_a + np.sin(fractions * angle) * z_b) / np.sin(angle)


def _straight(z_a: np.ndarray, z_b: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    return (1.0 - fractions) * z_a + fractions * z_b


def _endpoints(z_a: np.ndarray, z_b: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two codes as float64 (L,) rows and the fractions 0 ... 1 as a (steps, 1) column."""
    z_a, z_b = np.asarray(z_a, dtype=np.float64).reshape(-1), np.asarray(z_b, dtype=np.float64).reshape(-1)
    if z_a.shape != z_b.shape:
        raise ValueError(f"codes of different sizes: {z_a.size} and {z_b.size}")
    if steps < 2:
        raise ValueError(f"an interpolation needs steps >= 2 (both endpoints), got {steps}")
    return z_a, z_b, np.linspace(0.0, 1.0, steps)[:, None]
