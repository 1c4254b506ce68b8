"""Architectures: one builder per option of the `model` config group."""

from __future__ import annotations

from typing import Callable

from omegaconf import DictConfig

from aecli.errors import UserError
from aecli.models.base import Autoencoder, Forward, count_parameters
from aecli.models.bottleneck import Bottleneck, GaussianBottleneck
from aecli.models.conv import ConvAutoencoder, build_conv
from aecli.models.mlp import MLPAutoencoder, build_linear, build_mlp
from aecli.models.sparse_coding import SparseCoding, build_sparse_coding

__all__ = [
    "Autoencoder", "Forward", "Bottleneck", "GaussianBottleneck", "ConvAutoencoder", "MLPAutoencoder",
    "SparseCoding", "build_model", "count_parameters", "BUILDERS",
]

BUILDERS: dict[str, Callable[[DictConfig, tuple[int, ...], int, Bottleneck], Autoencoder]] = {
    "mlp": build_mlp,
    "linear": build_linear,
    "conv": build_conv,
    "sparse_coding": build_sparse_coding,
}


def build_model(
    cfg: DictConfig, sample_shape: tuple[int, ...], num_params: int = 1, bottleneck: Bottleneck | None = None
) -> Autoencoder:
    """The architecture named by `cfg.name` for samples of `sample_shape`.

    num_params: decoder outputs per data dimension, as the likelihood asks.
    bottleneck: the code layer (default: deterministic; GaussianBottleneck for a VAE).
    """
    builder = BUILDERS.get(cfg.name)
    if builder is None:
        raise UserError(f"unknown model {cfg.name!r}; choose one of {', '.join(BUILDERS)}")
    return builder(cfg, tuple(sample_shape), num_params, bottleneck if bottleneck is not None else Bottleneck())
