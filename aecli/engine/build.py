"""Build everything a run needs from its config, the one place train and evaluate share."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from omegaconf import DictConfig

from aecli.data import Dataset, build_dataset
from aecli.engine.device import data_budget
from aecli.likelihoods import Likelihood, build_likelihood
from aecli.models import Autoencoder, build_model
from aecli.regularizers import Regularizer, bottleneck_for, build_regularizers


@dataclass
class Experiment:
    data: Dataset
    likelihood: Likelihood
    regularizers: list[Regularizer]
    model: Autoencoder


def build_experiment(cfg: DictConfig, device: torch.device) -> Experiment:
    """Dataset, likelihood, regularizers and model for `cfg`, checked against each other
    (a UserError before any training when they cannot work together), on `device`.

    The model family builds the code layer the chosen terms declare (`bottleneck_for`: a
    Gaussian one for the VAE's KL term). The samples move to `device` when they fit there
    (`data.placement`), else they stay in host memory and are streamed per batch."""
    likelihood = build_likelihood(cfg.likelihood)
    regularizers = build_regularizers(cfg.regularizer)
    data = build_dataset(cfg.dataset, cfg.data)
    likelihood.check_data(data)
    model = build_model(cfg.model, data.sample_shape, likelihood.num_params, bottleneck_for(regularizers))
    model.check(likelihood, regularizers, data)
    for regularizer in regularizers:
        regularizer.check(model, data)
    placed = data.to(device, data_budget(device, str(cfg.data.placement)))
    return Experiment(placed, likelihood, regularizers, model.to(device))
