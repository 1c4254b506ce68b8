"""Decoder likelihoods: one module per option of the `likelihood` config group, registered in LIKELIHOODS.

Every loss is a negative log-likelihood in nats per sample: summed over the data dimensions.
`likelihood=auto` (the default) is a choice among other options, made by capability once the data
and the model are known (aecli.engine.experiment): the first of bernoulli, gaussian that accepts both."""

from __future__ import annotations

from omegaconf import DictConfig

from aecli.registry import Registry

LIKELIHOODS = Registry("likelihood", __name__)

from aecli.likelihoods.base import Likelihood  # noqa: E402  (after LIKELIHOODS: option modules import it)

__all__ = ["LIKELIHOODS", "Likelihood", "build_likelihood"]

LIKELIHOODS.register_choice("auto", ("bernoulli", "gaussian"))


def build_likelihood(cfg: DictConfig) -> Likelihood:
    """The likelihood `cfg` names (an option of the `likelihood` config group)."""
    return LIKELIHOODS.build(cfg)
