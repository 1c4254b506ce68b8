"""Convolutional autoencoder for images (C x H x W, e.g. 1 x 28 x 28 MNIST)."""

from __future__ import annotations

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
    "latent_dim": Int(min=1),
    "activation": Choice(*ACTIVATIONS),
    "code_activation": Choice(*ACTIVATIONS, nullable=True),
    "tied_weights": Bool(),
    "input_gain": Bool(),
}


class ConvAutoencoder(Autoencoder):
    """Stride-2 convolutions (one per entry of `channels`) -> linear code, mirrored back
    with stride-2 transposed convolutions; each stage halves (or doubles) the image side."""

    def __init__(
        self,
        sample_shape: tuple[int, ...],
        channels: Sequence[int],
        latent_dim: int,
        kernel_size: int = 3,
        activation_name: str = "relu",
        num_params: int = 1,
        bottleneck: Bottleneck | None = None,
        input_gain: bool = False,
        code_activation: str | None = None,
    ):
        bottleneck = bottleneck if bottleneck is not None else Bottleneck()
        in_channels, height, width = sample_shape
        factor = 2 ** len(channels)
        if height % factor or width % factor:
            raise UserError(
                f"model=conv with {len(channels)} stride-2 stages needs image sides divisible by {factor}, "
                f"got {height}x{width}; use fewer model.channels, or resize the images to multiples of {factor} "
                f"(an image folder: dataset.image_size=[{max(factor, height // factor * factor)},{max(factor, width // factor * factor)}])"
            )
        pad = kernel_size // 2
        inner = (channels[-1], height // factor, width // factor)
        flat = inner[0] * inner[1] * inner[2]

        encoder: list[nn.Module] = []
        for c_in, c_out in zip([in_channels, *channels[:-1]], channels):
            encoder += [nn.Conv2d(c_in, c_out, kernel_size, stride=2, padding=pad), activation(activation_name)]
        hidden_layers = [m for m in encoder if not isinstance(m, nn.Conv2d)]
        encoder += [nn.Flatten(), nn.Linear(flat, latent_dim * bottleneck.outputs_per_latent)]
        if code_activation is not None:
            if bottleneck.variational:
                raise UserError("model.code_activation applies to a plain code, not a VAE's mean and log-variance; set it to null")
            encoder.append(activation(code_activation))

        decoder: list[nn.Module] = [nn.Linear(latent_dim, flat), activation(activation_name), nn.Unflatten(1, inner)]
        outs = [*reversed(channels[:-1]), in_channels * num_params]
        for i, (c_in, c_out) in enumerate(zip(reversed(channels), outs)):
            decoder.append(
                nn.ConvTranspose2d(c_in, c_out, kernel_size, stride=2, padding=pad, output_padding=1)
            )
            if i < len(outs) - 1:
                decoder.append(activation(activation_name))
        super().__init__(
            nn.Sequential(*encoder), nn.Sequential(*decoder), latent_dim, sample_shape, num_params, bottleneck,
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


@MODELS.register("conv", settings=SETTINGS)
def build_conv(
    cfg: DictConfig, sample_shape: tuple[int, ...], num_params: int, bottleneck: Bottleneck
) -> ConvAutoencoder:
    if len(sample_shape) != 3:
        raise UserError(
            f"model=conv needs image data (channels x height x width), but this dataset gives 1-D signals "
            f"of length {sample_shape[0]}; use model=mlp or model=linear"
        )
    if cfg.tied_weights:
        raise UserError("model.tied_weights is for the mlp and linear models; set it to false with model=conv")
    if cfg.kernel_size % 2 == 0:
        raise UserError(f"model.kernel_size must be a positive odd integer, got {cfg.kernel_size}")
    return ConvAutoencoder(
        sample_shape, list(cfg.channels), cfg.latent_dim, kernel_size=cfg.kernel_size, activation_name=cfg.activation,
        num_params=num_params, bottleneck=bottleneck, input_gain=cfg.input_gain, code_activation=cfg.code_activation,
    )
