"""Code-space anomaly scores: the k-nearest distance and the Mahalanobis distance against brute
force, and a case where both rank the out-of-class codes first while a score that runs backwards
would not."""

from __future__ import annotations

import numpy as np
import pytest

from aecli.evaluation.anomaly import anomaly_auroc, knn_distance_scores, mahalanobis_scores


def test_the_knn_score_is_the_mean_distance_to_the_nearest_training_codes():
    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(50, 3)), rng.normal(size=(7, 3))
    scores = knn_distance_scores(train, test, k=4)
    brute = [np.sort(np.linalg.norm(train - point, axis=1))[:4].mean() for point in test]
    np.testing.assert_allclose(scores, brute)


def test_the_mahalanobis_score_is_the_distance_under_the_training_covariance():
    rng = np.random.default_rng(1)
    train = rng.normal(size=(400, 2)) @ np.array([[3.0, 0.0], [1.0, 0.5]])
    test = rng.normal(size=(5, 2))
    scores = mahalanobis_scores(train, test, ridge=0.0)
    inverse = np.linalg.inv(np.cov(train, rowvar=False))
    centred = test - train.mean(0)
    np.testing.assert_allclose(scores, [c @ inverse @ c for c in centred])


def test_codes_far_from_the_training_class_score_as_anomalies():
    rng = np.random.default_rng(2)
    train = rng.normal(size=(300, 4))
    normal, anomalies = rng.normal(size=(100, 4)), rng.normal(loc=3.0, size=(100, 4))
    test, is_anomaly = np.concatenate([normal, anomalies]), np.r_[np.zeros(100, bool), np.ones(100, bool)]
    assert anomaly_auroc(knn_distance_scores(train, test, 5), is_anomaly) > 0.95
    assert anomaly_auroc(mahalanobis_scores(train, test), is_anomaly) > 0.95
    assert anomaly_auroc(-mahalanobis_scores(train, test), is_anomaly) == pytest.approx(
        1 - anomaly_auroc(mahalanobis_scores(train, test), is_anomaly))
