"""The linear autoencoder: one affine map down to the code and one back, no nonlinearity.
With squared error it learns the PCA subspace (Baldi & Hornik 1989)."""

from __future__ import annotations

from omegaconf import DictConfig

from aecli.config.schema import Bool, Int
from aecli.models import MODELS
from aecli.models.bottleneck import Bottleneck
from aecli.models.mlp import MLPAutoencoder


@MODELS.register("linear", settings={
    "latent_dim": Int(min=1), "tied_weights": Bool(), "bias": Bool(), "normalize_input": Bool(),
})
def build_linear(cfg: DictConfig, sample_shape: tuple[int, ...], num_params: int, bottleneck: Bottleneck) -> MLPAutoencoder:
    return MLPAutoencoder(
        sample_shape, [], cfg.latent_dim, activation_name=None, tied_weights=cfg.tied_weights, bias=cfg.bias,
        num_params=num_params, bottleneck=bottleneck, normalize_input=cfg.normalize_input,
    )
