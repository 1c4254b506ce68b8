"""Architectures: one module per option of the `model` config group, registered in MODELS.

Each model family owns its code layer: `bottleneck` (plain, or Gaussian for a VAE) is
handed to the builder, which sizes the encoder for it."""

from __future__ import annotations

from omegaconf import DictConfig

from aecli.errors import UserError
from aecli.registry import Registry

MODELS = Registry("model", __name__)

from aecli.models.base import Autoencoder, Forward, count_parameters  # noqa: E402  (after MODELS)
from aecli.models.bottleneck import Bottleneck, GaussianBottleneck, MixturePriorBottleneck  # noqa: E402

__all__ = ["MODELS", "Autoencoder", "Forward", "Bottleneck", "GaussianBottleneck", "MixturePriorBottleneck", "build_model", "count_parameters"]


def build_model(
    cfg: DictConfig, sample_shape: tuple[int, ...], outputs_per_dim: int = 1, bottleneck: Bottleneck | None = None,
    classes: int = 0,
) -> Autoencoder:
    """The architecture `cfg` names for samples of `sample_shape`.

    outputs_per_dim: decoder outputs per data dimension, as the likelihood asks.
    bottleneck: the code layer (default: deterministic; GaussianBottleneck for a VAE).
    classes: the data's number of classes, for `model.conditional=true` (0: unlabelled data).
    """
    model = MODELS.build(cfg, tuple(sample_shape), outputs_per_dim, bottleneck if bottleneck is not None else Bottleneck())
    if cfg.get("conditional", False):
        if classes < 2:
            raise UserError("model.conditional=true feeds each sample's class label to the model, but this dataset has "
                            "no labels (or one class); set model.conditional=false or use labelled data")
        model.make_conditional(classes)
    return model
