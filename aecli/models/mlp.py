"""The fully connected bottleneck autoencoder (the linear autoencoder is its affine special case: linear.py).

With `tied_weights` the decoder's weight matrices are the transposes of the
encoder's (in mirrored order); each decoder layer keeps its own bias.
"""

from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor, nn

from aecli.config.schema import Bool, Choice, Int, IntList
from aecli.errors import UserError
from aecli.models import MODELS
from aecli.models.base import ACTIVATIONS, Autoencoder, activation, num_features
from aecli.models.bottleneck import Bottleneck
from aecli.models.scaling import InputScaling, OutputUnscaling


class TiedLinear(nn.Module):
    """y = x W^T + b with W the transpose of another layer's weight (shared, not copied)."""

    def __init__(self, source: nn.Linear, bias: bool = True):
        super().__init__()
        # A plain list keeps `source` out of this module's children, so the shared
        # weight appears once in the state dict (under the encoder).
        self._source = [source]
        self.bias = nn.Parameter(source.weight.new_zeros(source.in_features)) if bias else None

    @property
    def out_features(self) -> int:
        return self._source[0].in_features

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self._source[0].weight.t(), self.bias)

    def reset_parameters(self) -> None:
        """The bias back to zero, as built (the weight is the source layer's to reset)."""
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def extra_repr(self) -> str:
        source = self._source[0]
        return f"in_features={source.out_features}, out_features={self.out_features}, tied=True"


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
        outputs_per_dim: int = 1,
        bottleneck: Bottleneck | None = None,
        code_activation: str | None = None,
        input_gain: bool = False,
        normalize_input: bool = False,
        batch_norm: bool = False,
    ):
        bottleneck = bottleneck if bottleneck is not None else Bottleneck()
        input_dim = num_features(sample_shape)
        widths = [input_dim, *hidden_dims, latent_dim * bottleneck.outputs_per_latent]
        encoder_linears = [nn.Linear(a, b, bias=bias) for a, b in zip(widths[:-1], widths[1:])]

        if tied_weights:
            if outputs_per_dim != 1:
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
            out_widths = [latent_dim, *reversed(hidden_dims), input_dim * outputs_per_dim]
            decoder_linears = [nn.Linear(a, b, bias=bias) for a, b in zip(out_widths[:-1], out_widths[1:])]

        encoder_layers = _interleave(encoder_linears, activation_name, batch_norm)
        hidden_layers = [m for m in encoder_layers if not isinstance(m, (nn.Linear, nn.BatchNorm1d))]
        if code_activation is not None:
            if bottleneck.variational:
                raise UserError("model.code_activation applies to a plain code, not a VAE's mean and log-variance; set it to null")
            encoder_layers.append(activation(code_activation))
        decoder_layers = _interleave(decoder_linears, activation_name, batch_norm)
        if normalize_input:  # centred and scaled inside the model, undone on the output (aecli.models.scaling)
            scaling = InputScaling(input_dim)
            encoder_layers.insert(0, scaling)
            decoder_layers.append(OutputUnscaling(scaling))
        encoder = nn.Sequential(nn.Flatten(), *encoder_layers)
        decoder = nn.Sequential(*decoder_layers)
        super().__init__(
            encoder, decoder, latent_dim, sample_shape, outputs_per_dim, bottleneck,
            hidden_layers=hidden_layers, input_gain=input_gain,
        )
        self._affine = activation_name is None or not hidden_dims
        self._affine = self._affine and code_activation is None and not input_gain and not bottleneck.variational
        self._affine = self._affine and not batch_norm  # batch statistics couple the samples of a batch

    @property
    def is_linear(self) -> bool:
        return self._affine and not self.conditional

    def filters(self) -> tuple[str, Tensor]:
        """The first layer's weight rows, one per unit, in the data's shape: what each unit of the
        first layer (the code itself for model=linear) responds to (stroke detectors on MNIST)."""
        first = next(m for m in self.encoder if isinstance(m, nn.Linear))
        return "filters/first_layer", first.weight.detach().reshape(-1, *self.sample_shape)

    def stages(self) -> list[Autoencoder]:
        """One shallow autoencoder per encoder layer, sharing this network's modules (not copies):
        stage k is encoder layer k (with its activation) and the decoder layer that mirrors it
        (tied when the model ties weights). Stage 1 sees the data, stage k > 1 the flat features
        of layer k - 1, so training a stage trains those layers of the full network in place."""
        if self.variational:
            raise UserError("trainer.pretrain=layerwise cannot stack a VAE; drop vae from regularizer")
        if self.conditional:
            raise UserError("trainer.pretrain=layerwise trains each layer alone, without the class label of "
                            "model.conditional=true; set model.conditional=false")
        groups: list[list[nn.Module]] = []
        if any(isinstance(m, nn.BatchNorm1d) for m in self.decoder):
            raise UserError("trainer.pretrain=layerwise trains each layer alone, without the decoder's batch norm of "
                            "model.batch_norm=true; set model.batch_norm=false")
        if self.needs_input_statistics:
            raise UserError("trainer.pretrain=layerwise trains each layer on its own input, not the centred and scaled "
                            "one of model.normalize_input=true; set model.normalize_input=false")
        for module in (m for m in self.encoder if not isinstance(m, nn.Flatten)):
            if isinstance(module, (nn.Linear, TiedLinear)):
                groups.append([module])
            else:
                groups[-1].append(module)  # the activation after that linear layer
        if len(groups) < 2:
            raise UserError("trainer.pretrain=layerwise needs at least one hidden layer; set model.hidden_dims (e.g. [256,64])")
        decoder_linears = [m for m in self.decoder if isinstance(m, (nn.Linear, TiedLinear))]
        stages = []
        for k, layers in enumerate(groups, start=1):
            first = k == 1
            encoder = nn.Sequential(*([nn.Flatten()] if first else []), *layers)
            decoder = nn.Sequential(decoder_linears[len(groups) - k])
            stages.append(Autoencoder(
                encoder, decoder, layers[0].out_features, self.sample_shape if first else (layers[0].in_features,),
                outputs_per_dim=self.outputs_per_dim if first else 1, input_gain=self.input_gain and first,
            ))
        return stages


def _interleave(layers: list[nn.Module], activation_name: str | None, batch_norm: bool = False) -> list[nn.Module]:
    """Layers with an activation between consecutive ones (none after the last), each
    preceded by batch norm over that layer's units when `batch_norm`."""
    out: list[nn.Module] = []
    for i, layer in enumerate(layers):
        out.append(layer)
        if i < len(layers) - 1:
            if batch_norm:
                out.append(nn.BatchNorm1d(layer.out_features))
            if activation_name is not None:
                out.append(activation(activation_name))
    return out


SETTINGS = {
    "hidden_dims": IntList(min=1),
    "latent_dim": Int(min=1),
    "activation": Choice(*ACTIVATIONS),
    "tied_weights": Bool(),
    "code_activation": Choice(*ACTIVATIONS, nullable=True, old=None),
    "input_gain": Bool(old=False),
    "normalize_input": Bool(old=False),
    "batch_norm": Bool(old=False),
    "conditional": Bool(old=False),
    "sync_batch_norm": Bool(old=False),
}


@MODELS.register("mlp", settings=SETTINGS)
def build_mlp(cfg: DictConfig, sample_shape: tuple[int, ...], outputs_per_dim: int, bottleneck: Bottleneck) -> MLPAutoencoder:
    return MLPAutoencoder(
        sample_shape,
        list(cfg.hidden_dims),
        cfg.latent_dim,
        activation_name=cfg.activation,
        tied_weights=cfg.tied_weights,
        outputs_per_dim=outputs_per_dim,
        bottleneck=bottleneck,
        code_activation=cfg.code_activation,
        input_gain=cfg.input_gain,
        normalize_input=cfg.normalize_input,
        batch_norm=cfg.batch_norm,
    )
