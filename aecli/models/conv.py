"""Convolutional autoencoder for images (C x H x W, e.g. 1 x 28 x 28 MNIST).

The encoder is one convolution per entry of `channels` (each with its kernel size and stride,
optional batch norm, then the activation), an optional hidden fully connected layer, and a
linear code layer; the decoder mirrors it with transposed convolutions whose output padding
is computed so every stage gives back exactly the size its encoder stage took in. With
`separate_heads` and a likelihood with several outputs per pixel (gaussian_learned: a mean
and a log-variance), the last transposed convolution is one head per output instead of one
convolution with outputs_per_dim x C channels (the anchors' VAE decoders).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from omegaconf import DictConfig
from torch import Tensor, nn

from aecli.config.schema import Bool, Choice, Int, IntList
from aecli.errors import UserError
from aecli.models import MODELS
from aecli.models.base import ACTIVATIONS, Autoencoder, activation
from aecli.models.bottleneck import Bottleneck

SETTINGS = {
    "channels": IntList(min=1, nonempty=True),
    "kernel_size": Int(min=1),
    "kernel_sizes": IntList(min=1, nullable=True, old=None),
    "strides": IntList(min=1, nullable=True, old=None),
    "padding": Int(min=0, nullable=True, old=None),
    "batch_norm": Bool(old=False),
    "hidden_dim": Int(min=1, nullable=True, old=None),
    "separate_heads": Bool(old=False),
    "latent_dim": Int(min=1),
    "activation": Choice(*ACTIVATIONS),
    "code_activation": Choice(*ACTIVATIONS, nullable=True, old=None),
    "tied_weights": Bool(),
    "input_gain": Bool(old=False),
    "conditional": Bool(old=False),
    "sync_batch_norm": Bool(old=False),
}


@dataclass(frozen=True)
class ConvLayout:
    """The convolution stages: per layer its kernel size, stride and padding (null: kernel // 2)."""

    channels: tuple[int, ...]
    kernel_sizes: tuple[int, ...]
    strides: tuple[int, ...]
    padding: int | None = None
    batch_norm: bool = False
    hidden_dim: int | None = None  # a fully connected layer of this width between the feature maps and the code

    @classmethod
    def uniform(cls, channels: Sequence[int], kernel_size: int = 3, **options) -> ConvLayout:
        """Every stage with `kernel_size` and stride 2: the classic halving encoder."""
        return cls(tuple(channels), (kernel_size,) * len(channels), (2,) * len(channels), **options)

    def pad(self, layer: int) -> int:
        return self.kernel_sizes[layer] // 2 if self.padding is None else self.padding

    def sizes(self, side: int, axis: str) -> list[int]:
        """The feature map's side after each stage, starting with `side` itself."""
        sizes = [side]
        for layer, (kernel, stride) in enumerate(zip(self.kernel_sizes, self.strides)):
            out = (sizes[-1] + 2 * self.pad(layer) - kernel) // stride + 1
            if out < 1:
                raise UserError(
                    f"model=conv: convolution {layer + 1} leaves no {axis} (kernel {kernel}, stride {stride}, "
                    f"padding {self.pad(layer)} on {sizes[-1]}); use fewer model.channels, smaller kernels or strides, or more padding"
                )
            sizes.append(out)
        return sizes

    def output_padding(self, layer: int, size_in: int, size_out: int) -> int:
        """The transposed convolution's output padding that turns `size_in` back into `size_out`:
        what the convolution's floor division dropped, always in [0, stride)."""
        kernel, stride = self.kernel_sizes[layer], self.strides[layer]
        return size_out - ((size_in - 1) * stride - 2 * self.pad(layer) + kernel)


class Heads(nn.Module):
    """One transposed convolution per decoder output (mean, log-variance), stacked along channels
    in the layout the likelihood reads: (B, outputs_per_dim x C, H, W)."""

    def __init__(self, heads: list[nn.Module]):
        super().__init__()
        self.heads = nn.ModuleList(heads)

    def forward(self, h: Tensor) -> Tensor:
        return torch.cat([head(h) for head in self.heads], dim=1)


class ConvAutoencoder(Autoencoder):
    """Convolutions -> [hidden fully connected layer] -> linear code, mirrored back."""

    def __init__(
        self,
        sample_shape: tuple[int, ...],
        layout: ConvLayout,
        latent_dim: int,
        activation_name: str = "relu",
        outputs_per_dim: int = 1,
        bottleneck: Bottleneck | None = None,
        input_gain: bool = False,
        code_activation: str | None = None,
        separate_heads: bool = False,
    ):
        bottleneck = bottleneck if bottleneck is not None else Bottleneck()
        in_channels, height, width = sample_shape
        heights, widths = layout.sizes(height, "height"), layout.sizes(width, "width")
        inner = (layout.channels[-1], heights[-1], widths[-1])
        flat = inner[0] * inner[1] * inner[2]

        encoder: list[nn.Module] = []
        hidden_layers: list[nn.Module] = []  # the activations, for regularizers that look at hidden units
        for layer, (c_in, c_out) in enumerate(zip([in_channels, *layout.channels[:-1]], layout.channels)):
            conv = nn.Conv2d(c_in, c_out, layout.kernel_sizes[layer], layout.strides[layer], layout.pad(layer))
            hidden_layers.append(activation(activation_name))
            encoder += [conv, *_norm(layout, c_out), hidden_layers[-1]]
        encoder.append(nn.Flatten())
        if layout.hidden_dim is not None:
            hidden_layers.append(activation(activation_name))
            encoder += [nn.Linear(flat, layout.hidden_dim), hidden_layers[-1]]
        encoder.append(nn.Linear(layout.hidden_dim or flat, latent_dim * bottleneck.outputs_per_latent))
        if code_activation is not None:
            if bottleneck.variational:
                raise UserError("model.code_activation applies to a plain code, not a VAE's mean and log-variance; set it to null")
            encoder.append(activation(code_activation))

        dense = [latent_dim, *([] if layout.hidden_dim is None else [layout.hidden_dim]), flat]
        decoder: list[nn.Module] = []
        for a, b in zip(dense[:-1], dense[1:]):
            decoder += [nn.Linear(a, b), activation(activation_name)]
        decoder.append(nn.Unflatten(1, inner))
        decoder += _transposed(layout, heights, widths, in_channels, outputs_per_dim, activation_name, separate_heads)
        super().__init__(
            nn.Sequential(*encoder), nn.Sequential(*decoder), latent_dim, sample_shape, outputs_per_dim, bottleneck,
            hidden_layers=hidden_layers, input_gain=input_gain,
        )
        # Channels-last kernels put every convolution on oneDNN's NHWC path (the transposed ones
        # included): measured 8 % off the MNIST [32,64]-10 step on the CPU (docs/performance.md).
        self.to(memory_format=torch.channels_last)

    def filters(self) -> tuple[str, Tensor]:
        """The first convolution's kernels, (channels[0], C, k, k): small images of the local
        patterns (edges, strokes) the first layer detects."""
        first = next(m for m in self.encoder if isinstance(m, nn.Conv2d))
        return "filters/first_layer", first.weight.detach()


def _norm(layout: ConvLayout, channels: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels)] if layout.batch_norm else []


def _transposed(
    layout: ConvLayout, heights: list[int], widths: list[int], in_channels: int, outputs_per_dim: int,
    activation_name: str, separate_heads: bool,
) -> list[nn.Module]:
    """The decoder's transposed convolutions, the encoder's stages in reverse, each giving back
    the exact side its stage took in; the last one emits the likelihood's outputs."""
    layers: list[nn.Module] = []
    count = len(layout.channels)
    for layer in reversed(range(count)):
        c_in = layout.channels[layer]
        last = layer == 0
        c_out = in_channels if last else layout.channels[layer - 1]
        padding = (layout.output_padding(layer, heights[layer + 1], heights[layer]),
                   layout.output_padding(layer, widths[layer + 1], widths[layer]))

        def stage(out_channels: int) -> nn.ConvTranspose2d:
            return nn.ConvTranspose2d(c_in, out_channels, layout.kernel_sizes[layer], layout.strides[layer],
                                      layout.pad(layer), output_padding=padding)

        if not last:
            layers += [stage(c_out), *_norm(layout, c_out), activation(activation_name)]
        elif separate_heads and outputs_per_dim > 1:
            layers.append(Heads([stage(c_out) for _ in range(outputs_per_dim)]))
        else:
            layers.append(stage(c_out * outputs_per_dim))
    return layers


def layout_from_config(cfg: DictConfig) -> ConvLayout:
    """The ConvLayout of a `model=conv` config; per-layer lists must match `channels` in length."""
    channels = list(cfg.channels)
    per_layer = {}
    for key, fallback in (("kernel_sizes", cfg.kernel_size), ("strides", 2)):
        values = cfg[key]
        if values is not None and len(values) != len(channels):
            raise UserError(
                f"model.{key} has {len(values)} entries but model.channels has {len(channels)}; give one per layer, or null"
            )
        per_layer[key] = tuple(values) if values is not None else (fallback,) * len(channels)
    if any(k % 2 == 0 for k in per_layer["kernel_sizes"]) and cfg.padding is None:
        raise UserError("model.kernel_size must be a positive odd integer with model.padding=null (same padding); "
                        f"got {list(per_layer['kernel_sizes'])}; use odd kernels or set model.padding")
    return ConvLayout(tuple(channels), per_layer["kernel_sizes"], per_layer["strides"], cfg.padding,
                      cfg.batch_norm, cfg.hidden_dim)


@MODELS.register("conv", settings=SETTINGS)
def build_conv(
    cfg: DictConfig, sample_shape: tuple[int, ...], outputs_per_dim: int, bottleneck: Bottleneck
) -> ConvAutoencoder:
    if len(sample_shape) != 3:
        raise UserError(
            f"model=conv needs image data (channels x height x width), but this dataset gives 1-D signals "
            f"of length {sample_shape[0]}; use model=mlp or model=linear"
        )
    if cfg.tied_weights:
        raise UserError("model.tied_weights is for the mlp and linear models; set it to false with model=conv")
    return ConvAutoencoder(
        sample_shape, layout_from_config(cfg), cfg.latent_dim, activation_name=cfg.activation, outputs_per_dim=outputs_per_dim,
        bottleneck=bottleneck, input_gain=cfg.input_gain, code_activation=cfg.code_activation,
        separate_heads=cfg.separate_heads,
    )
