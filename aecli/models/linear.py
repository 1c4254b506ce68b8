"""The linear autoencoder: one affine map down to the code and one back, no nonlinearity.
With squared error it learns the PCA subspace (Baldi & Hornik 1989).

`model.init=orthogonal` (the default) starts it balanced: the encoder's rows a random
orthonormal basis, the decoder its transpose, the biases zero, so the model starts as a
projection onto a random subspace and training only has to turn that subspace. PyTorch's
default (`model.init=default`) starts the decoder's weights about sqrt(D / k) times larger than
the encoder's and the biases up to 0.7 away from the centred data's zero; Adam then spends its
bounded steps undoing that, and 30 epochs on the 8000 lines or damped oscillations left the
subspace 0.2 to 4.3 degrees from PCA's (docs/configuration.md, Training knobs).
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch import nn

from aecli.config.schema import Bool, Choice, Int
from aecli.models import MODELS
from aecli.models.bottleneck import Bottleneck
from aecli.models.mlp import MLPAutoencoder

INITS = ("orthogonal", "default")


@MODELS.register("linear", settings={
    "latent_dim": Int(min=1), "tied_weights": Bool(), "bias": Bool(), "normalize_input": Bool(old=False),
    "init": Choice(*INITS, old="default"),  # runs from before the key started from PyTorch's initialisation
})
def build_linear(cfg: DictConfig, sample_shape: tuple[int, ...], outputs_per_dim: int, bottleneck: Bottleneck) -> MLPAutoencoder:
    model = MLPAutoencoder(
        sample_shape, [], cfg.latent_dim, activation_name=None, tied_weights=cfg.tied_weights, bias=cfg.bias,
        outputs_per_dim=outputs_per_dim, bottleneck=bottleneck, normalize_input=cfg.normalize_input,
    )
    if cfg.init == "orthogonal":
        balanced_orthogonal_init(model)
    return model


@torch.no_grad()
def balanced_orthogonal_init(model: MLPAutoencoder) -> None:
    """Encoder weight (k, D) with orthonormal rows (torch's RNG, so seeded), decoder weight its
    transpose, biases zero. Where an output comes in blocks (a VAE encoder's mean and log-variance,
    a decoder's mean and learned log-variance), the first block (the mean) is set so and the others
    start at zero weights and biases: a posterior and a decoder variance of 1, the same for every
    input. A tied decoder follows the encoder by itself."""
    encoder = next(m for m in model.encoder if isinstance(m, nn.Linear))
    decoder = next((m for m in model.decoder if isinstance(m, nn.Linear)), None)
    latent, dim = model.latent_dim, encoder.weight.shape[1]
    basis, _ = torch.linalg.qr(torch.randn(dim, latent, dtype=torch.float64))
    for layer, mean_block in ((encoder, basis.T), (decoder, basis)):
        if layer is None or not hasattr(layer, "weight"):  # a tied decoder has the encoder's weight
            continue
        layer.weight.zero_()
        layer.weight[: len(mean_block)] = mean_block
        if layer.bias is not None:
            layer.bias.zero_()
