"""Decoder likelihoods: one module per option of the `likelihood` config group, registered in LIKELIHOODS.

Every loss is a negative log-likelihood in nats per sample: summed over the data dimensions."""

from __future__ import annotations

from omegaconf import DictConfig

from aecli.registry import Registry

LIKELIHOODS = Registry("likelihood", __name__)

from aecli.likelihoods.base import Likelihood  # noqa: E402  (after LIKELIHOODS: option modules import it)

__all__ = ["LIKELIHOODS", "Likelihood", "build_likelihood"]


def build_likelihood(cfg: DictConfig) -> Likelihood:
    """The likelihood `cfg` names (an option of the `likelihood` config group)."""
    return LIKELIHOODS.build(cfg)
