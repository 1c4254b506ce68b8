"""Build everything a run needs from its config, the one place train and evaluate share.

Options compose with the others' defaults: `likelihood=auto` (the default) becomes the first of
bernoulli, gaussian that this data and model accept, and a regularizer that needs a code
activation (sparse_kl: sigmoid) gets it when the model's `code_activation` is left at null.
Both choices are written into the config, so the saved config and every checkpoint record them."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from aecli.config.keys import AUTO, option_defaults
from aecli.data import Dataset, build_dataset
from aecli.data.base import first_training_samples
from aecli.engine.device import data_budget
from aecli.errors import UserError
from aecli.likelihoods import Likelihood, build_likelihood
from aecli.models import MODELS, Autoencoder, build_model
from aecli.models.bottleneck import Bottleneck
from aecli.regularizers import Regularizer, bottleneck_for, build_regularizers

AUTO_LIKELIHOODS = ("bernoulli", "gaussian")  # likelihood=auto: the first that data and model accept


@dataclass
class Experiment:
    data: Dataset
    likelihood: Likelihood
    regularizers: list[Regularizer]
    model: Autoencoder
    brought: list[str] = field(default_factory=list)  # what the options chose for each other, for the start line


def build_experiment(cfg: DictConfig, device: torch.device) -> Experiment:
    """Dataset, likelihood, regularizers and model for `cfg`, checked against each other
    (a UserError before any training when they cannot work together), on `device`.

    The model family builds the code layer the chosen terms declare (`bottleneck_for`: a
    Gaussian one for the VAE's KL term). The samples move to `device` when they fit there
    (`data.placement`), else they stay in host memory and are streamed per batch. `cfg` is
    updated in place with what `auto` and the regularizers chose (see the module docstring)."""
    regularizers = build_regularizers(cfg.regularizer)
    data = first_training_samples(build_dataset(cfg.dataset, cfg.data), cfg.data.train_limit)
    brought = bring_code_activation(cfg, regularizers)
    auto = cfg.likelihood.name == AUTO
    candidates = [option_defaults("likelihood", name) for name in AUTO_LIKELIHOODS] if auto else [cfg.likelihood]
    rng = torch.get_rng_state()  # a refused candidate's model must not shift the chosen one's initialization
    for position, candidate in enumerate(candidates):
        try:
            likelihood, model = _likelihood_and_model(cfg, candidate, data, regularizers, bottleneck_for(regularizers, int(cfg.model.latent_dim)))
            break
        except UserError:
            if position == len(candidates) - 1:
                raise
            torch.set_rng_state(rng)
    if auto:
        with open_dict(cfg):
            cfg.likelihood = candidate
        low, high = data.value_range()
        brought.append(f"likelihood={candidate.name} (auto: data in [{low:.3g}, {high:.3g}])")
    for regularizer in regularizers:
        regularizer.check(model, data)
    if model.needs_input_statistics:  # the whole train split as float: only for a model that uses it
        model.fit_input(data.train.x)
    placed = data.to(device, data_budget(device, str(cfg.data.placement)))
    return Experiment(placed, likelihood, regularizers, model.to(device), brought)


def _likelihood_and_model(
    cfg: DictConfig, likelihood_cfg: DictConfig, data: Dataset, regularizers: list[Regularizer], bottleneck: Bottleneck
) -> tuple[Likelihood, Autoencoder]:
    likelihood = build_likelihood(likelihood_cfg)
    likelihood.check_data(data)
    model = build_model(cfg.model, data.sample_shape, likelihood.num_params, bottleneck)
    model.check(likelihood, regularizers, data)
    return likelihood, model


def bring_code_activation(cfg: DictConfig, regularizers: list[Regularizer]) -> list[str]:
    """Set `model.code_activation` to what a regularizer needs when the model has that key at
    null (an explicit value wins, and is then checked by the regularizer); what was set, as lines."""
    brought = []
    for regularizer in regularizers:
        wanted = regularizer.code_activation
        if wanted is None:
            continue
        if "code_activation" not in cfg.model:
            offering = [name for name in MODELS.names if "code_activation" in MODELS.option(name).settings]
            raise UserError(
                f"regularizer.{regularizer.name} needs a {wanted} code layer, but model={cfg.model.get('name', '?')} "
                f"has no model.code_activation; use model={' or model='.join(offering)}"
            )
        if cfg.model.code_activation is None:
            OmegaConf.update(cfg, "model.code_activation", wanted)
            brought.append(f"model.code_activation={wanted} (for regularizer {regularizer.name})")
    return brought
