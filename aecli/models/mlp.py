"""Fully connected autoencoders: the MLP bottleneck and the linear autoencoder.

With `tied_weights` the decoder's weight matrices are the transposes of the
encoder's (in mirrored order); each decoder layer keeps its own bias.
"""

from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor, nn

from aecli.errors import UserError
from aecli.models.base import Autoencoder, activation, check_latent_dim, num_features
from aecli.models.bottleneck import Bottleneck


class TiedLinear(nn.Module):
    """y = x W^T + b with W the transpose of another layer's weight (shared, not copied)."""

    def __init__(self, source: nn.Linear, bias: bool = True):
        super().__init__()
        # A plain list keeps `source` out of this module's children, so the shared
        # weight appears once in the state dict (under the encoder).
        self._source = [source]
        self.bias = nn.Parameter(source.weight.new_zeros(source.in_features)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self._source[0].weight.t(), self.bias)

    def extra_repr(self) -> str:
        source = self._source[0]
        return f"in_features={source.out_features}, out_features={source.in_features}, tied=True"


class MLPAutoencoder(Autoencoder):
    """input -> hidden_dims -> latent_dim -> reversed hidden_dims -> output.

    The code layer is linear unless `code_activation` names one (sigmoid for the
    classic sparse and contractive autoencoders).
    """

    def __init__(
        self,
        sample_shape: tuple[int, ...],
        hidden_dims: Sequence[int],
        latent_dim: int,
        activation_name: str | None = "relu",
        tied_weights: bool = False,
        bias: bool = True,
        num_params: int = 1,
        bottleneck: Bottleneck | None = None,
        code_activation: str | None = None,
        input_gain: bool = False,
    ):
        bottleneck = bottleneck if bottleneck is not None else Bottleneck()
        input_dim = num_features(sample_shape)
        widths = [input_dim, *hidden_dims, latent_dim * bottleneck.outputs_per_latent]
        encoder_linears = [nn.Linear(a, b, bias=bias) for a, b in zip(widths[:-1], widths[1:])]

        if tied_weights:
            if num_params != 1:
                raise UserError(
                    "model.tied_weights=true needs one decoder output per data dimension; "
                    "this likelihood needs more; set model.tied_weights=false"
                )
            if bottleneck.outputs_per_latent != 1:
                raise UserError(
                    "model.tied_weights=true cannot mirror a Gaussian code layer (the encoder emits a mean "
                    "and a log-variance per latent); set model.tied_weights=false with regularizer=vae"
                )
            decoder_linears: list[nn.Module] = [TiedLinear(layer, bias=bias) for layer in reversed(encoder_linears)]
        else:
            out_widths = [latent_dim, *reversed(hidden_dims), input_dim * num_params]
            decoder_linears = [nn.Linear(a, b, bias=bias) for a, b in zip(out_widths[:-1], out_widths[1:])]

        encoder_layers = _interleave(encoder_linears, activation_name)
        hidden_layers = [m for m in encoder_layers if not isinstance(m, nn.Linear)]
        if code_activation is not None:
            if bottleneck.variational:
                raise UserError("model.code_activation applies to a plain code, not a VAE's mean and log-variance; set it to null")
            encoder_layers.append(activation(code_activation))
        encoder = nn.Sequential(nn.Flatten(), *encoder_layers)
        decoder = nn.Sequential(*_interleave(decoder_linears, activation_name))
        super().__init__(
            encoder, decoder, latent_dim, sample_shape, num_params, bottleneck,
            hidden_layers=hidden_layers, input_gain=input_gain,
        )


def _interleave(layers: list[nn.Module], activation_name: str | None) -> list[nn.Module]:
    """Layers with an activation between consecutive ones (none after the last)."""
    out: list[nn.Module] = []
    for i, layer in enumerate(layers):
        out.append(layer)
        if activation_name is not None and i < len(layers) - 1:
            out.append(activation(activation_name))
    return out


def build_mlp(
    cfg: DictConfig, sample_shape: tuple[int, ...], num_params: int, bottleneck: Bottleneck
) -> MLPAutoencoder:
    hidden_dims = list(cfg.hidden_dims)
    if any(not isinstance(h, int) or h < 1 for h in hidden_dims):
        raise UserError(f"model.hidden_dims must be a list of positive integers, got {hidden_dims}")
    return MLPAutoencoder(
        sample_shape,
        hidden_dims,
        check_latent_dim(cfg.latent_dim),
        activation_name=cfg.activation,
        tied_weights=bool(cfg.tied_weights),
        num_params=num_params,
        bottleneck=bottleneck,
        # .get: runs saved before these keys existed still rebuild
        code_activation=cfg.get("code_activation"),
        input_gain=bool(cfg.get("input_gain", False)),
    )


def build_linear(
    cfg: DictConfig, sample_shape: tuple[int, ...], num_params: int, bottleneck: Bottleneck
) -> MLPAutoencoder:
    return MLPAutoencoder(
        sample_shape,
        [],
        check_latent_dim(cfg.latent_dim),
        activation_name=None,
        tied_weights=bool(cfg.tied_weights),
        bias=bool(cfg.bias),
        num_params=num_params,
        bottleneck=bottleneck,
    )
