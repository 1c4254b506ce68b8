"""Build everything a run needs from its config, the one place train and evaluate share."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from omegaconf import DictConfig

from aecli.data import Dataset, build_dataset
from aecli.likelihoods import Likelihood, build_likelihood
from aecli.models import Autoencoder, GaussianBottleneck, build_model
from aecli.regularizers import VAE, Regularizer, build_regularizers


@dataclass
class Experiment:
    data: Dataset
    likelihood: Likelihood
    regularizers: list[Regularizer]
    model: Autoencoder


def build_experiment(cfg: DictConfig, device: torch.device) -> Experiment:
    """Dataset, likelihood, regularizers and model for `cfg`, checked against each other
    (a UserError before any training when they cannot work together), on `device`."""
    data = build_dataset(cfg.dataset, cfg.data)
    likelihood = build_likelihood(cfg.likelihood)
    likelihood.check_data(data)
    regularizers = build_regularizers(cfg.get("regularizer"))
    # A VAE is a Gaussian bottleneck plus a KL term: the regularizer brings the term, the code layer is chosen here.
    bottleneck = GaussianBottleneck() if any(isinstance(r, VAE) for r in regularizers) else None
    model = build_model(cfg.model, data.sample_shape, likelihood.num_params, bottleneck)
    model.check(likelihood, regularizers, data)
    for regularizer in regularizers:
        regularizer.check(model, data)
    return Experiment(data.to(device), likelihood, regularizers, model.to(device))
