"""The parts of `aecli evaluate` that ask what the codes are good for: few-label probes, anomaly
detection of the classes left out of training, and the PPCA likelihood baseline. Each returns
its metrics and says in `notes` why a figure that could apply was left out."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from aecli.data import Split
from aecli.engine.steps import reconstruction_nll
from aecli.evaluation.anomaly import anomaly_auroc, knn_distance_scores, mahalanobis_scores, roc_curve_points
from aecli.evaluation.ppca import ppca_nll, ppca_of_spectrum
from aecli.evaluation.spectrum import Spectrum
from aecli.evaluation.probes import few_label_probe
from aecli.likelihoods import Likelihood
from aecli.models import Autoencoder
from aecli.regularizers import Regularizer


@dataclass
class Anomaly:
    """Scores of the test split as a detector of the classes left out of training."""

    auroc: float
    score_name: str  # "reconstruction loss" or a regularizer's own ("negative ELBO")
    false_positive_rate: np.ndarray
    true_positive_rate: np.ndarray
    classes: tuple[int, ...]
    num_anomalies: int
    num_normal: int


@dataclass
class Downstream:
    metrics: dict[str, float] = field(default_factory=dict)
    anomaly: Anomaly | None = None
    notes: list[str] = field(default_factory=list)


def label_budget_probes(
    train_codes: np.ndarray, train_labels: np.ndarray, test_codes: np.ndarray, test_labels: np.ndarray,
    budgets: list[int], draws: int, seed: int, max_iter: int, result: Downstream,
) -> None:
    """probe_linear_acc_<N> and probe_linear_acc_<N>_std for each budget N that the train split
    can give (between the number of classes and its size), into `result`."""
    num_classes = len(np.unique(train_labels))
    for budget in budgets:
        if not num_classes <= budget <= len(train_labels):
            result.notes.append(
                f"probe_linear_acc_{budget} left out: {budget} labels do not fit a train split of "
                f"{len(train_labels)} codes in {num_classes} classes"
            )
            continue
        mean, spread = few_label_probe(
            train_codes, train_labels, test_codes, test_labels, budget, draws=draws, seed=seed, max_iter=max_iter
        )
        result.metrics[f"probe_linear_acc_{budget}"] = mean
        result.metrics[f"probe_linear_acc_{budget}_std"] = spread


def detect_anomalies(
    model: Autoencoder, likelihood: Likelihood, regularizers: list[Regularizer], test: Split,
    excluded: tuple[int, ...], settings, batch_size: int, result: Downstream,
    train_codes: np.ndarray | None = None, test_codes: np.ndarray | None = None,
) -> None:
    """anomaly_auroc of the test split, the left-out classes as anomalies: scored by a
    regularizer's own score where one defines it (the VAE's negative ELBO), else by the
    reconstruction loss (the likelihood's negative log-likelihood, nats per sample); beside it,
    given the codes, anomaly_auroc_knn (the mean distance to the probe.knn_k nearest training
    codes) and anomaly_auroc_mahalanobis (the distance to a Gaussian fit of the training codes)."""
    is_anomaly = torch.isin(test.labels, torch.tensor(excluded, device=test.labels.device)).cpu().numpy()
    if is_anomaly.all() or not is_anomaly.any():
        result.notes.append(
            f"anomaly_auroc left out: the test split holds {'only' if is_anomaly.all() else 'none of'} "
            f"the excluded classes {list(excluded)}"
        )
        return
    found = None
    for regularizer in regularizers:
        found = found or regularizer.anomaly_scores(model, likelihood, test, settings, batch_size)
    name, scores = found or ("reconstruction loss", reconstruction_nll(model, likelihood, test, batch_size))
    scores = scores.double().cpu().numpy()
    auroc = anomaly_auroc(scores, is_anomaly)
    fpr, tpr = roc_curve_points(scores, is_anomaly)
    result.metrics["anomaly_auroc"] = auroc
    result.anomaly = Anomaly(auroc, name, fpr, tpr, excluded, int(is_anomaly.sum()), int((~is_anomaly).sum()))
    if train_codes is not None and test_codes is not None:
        k = int(settings.probe.knn_k)
        result.metrics["anomaly_auroc_knn"] = anomaly_auroc(knn_distance_scores(train_codes, test_codes, k), is_anomaly)
        result.metrics["anomaly_auroc_mahalanobis"] = anomaly_auroc(mahalanobis_scores(train_codes, test_codes), is_anomaly)


def ppca_baseline(spectrum: Spectrum, test_x: Tensor, latent_dim: int, likelihood: Likelihood, result: Downstream) -> None:
    """ppca_nll: PPCA with the run's latent size, fit on train (its `spectrum`), its test NLL in nats
    per sample; only where the likelihood is a density over real values (not Bernoulli)."""
    data_dim = spectrum.dim
    if not likelihood.continuous:  # not applicable, like mig without factors: nothing to note
        return
    if latent_dim >= data_dim:
        result.notes.append(f"ppca_nll left out: latent_dim {latent_dim} is not below the data dimension {data_dim}")
        return
    result.metrics["ppca_nll"] = ppca_nll(ppca_of_spectrum(spectrum, latent_dim), test_x.detach().cpu().numpy())
