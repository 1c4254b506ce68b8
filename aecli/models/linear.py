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
    transpose, biases zero. A decoder that does not mirror the encoder (a VAE's mean and
    log-variance heads, a likelihood with more than one output per dimension) keeps its own
    initialisation; a tied decoder follows the encoder by itself."""
    encoder = next(m for m in model.encoder if isinstance(m, nn.Linear))
    latent, dim = encoder.weight.shape
    basis, _ = torch.linalg.qr(torch.randn(dim, latent, dtype=torch.float64))
    encoder.weight.copy_(basis.T)
    decoder = next((m for m in model.decoder if isinstance(m, nn.Linear)), None)
    if decoder is not None and decoder.weight.shape != (dim, latent):
        return
    for layer in (encoder, decoder):
        if layer is not None and layer.bias is not None:
            layer.bias.zero_()
    if decoder is not None:
        decoder.weight.copy_(basis)
