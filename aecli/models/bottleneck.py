"""The code layer between encoder and decoder: a plain (deterministic) bottleneck or a
Gaussian one (the VAE's).

A bottleneck turns the encoder's last layer into the code the decoder sees. It has
no parameters of its own; it only says how many encoder outputs each latent
dimension takes (`outputs_per_latent`), so a plain autoencoder's layers and
checkpoints stay exactly as they were.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Bottleneck(nn.Module):
    """Deterministic: the encoder's output is the code."""

    outputs_per_latent: int = 1
    variational: bool = False
    label: str = "plain"  # how the start line names the code layer

    def forward(self, h: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The code the decoder sees during a pass, and statistics for regularizers."""
        return h, {}

    def mean(self, h: Tensor) -> Tensor:
        """The deterministic code (what plots and probes use)."""
        return h

    def sample_prior(self, count: int, latent_dim: int, generator: torch.Generator) -> Tensor | None:
        """`count` codes drawn from the prior (on the CPU), or None: a plain code has no prior."""
        return None


class GaussianBottleneck(Bottleneck):
    """q(z|x) = N(mean, diag(exp(logvar))): the encoder emits (mean, logvar), 2 x latent_dim values.

    Every pass samples z = mean + exp(logvar / 2) * eps (the reparameterization), in
    training and evaluation alike, so a loss on any split is a one-sample estimate of
    the VAE objective; `mean` gives the deterministic code.
    """

    outputs_per_latent = 2
    variational = True
    label = "Gaussian"

    def forward(self, h: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        mean, logvar = h.chunk(2, dim=1)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        return z, {"mean": mean, "logvar": logvar}

    def mean(self, h: Tensor) -> Tensor:
        return h.chunk(2, dim=1)[0]

    def sample_prior(self, count: int, latent_dim: int, generator: torch.Generator) -> Tensor:
        """Draws from the prior N(0, I)."""
        return torch.randn(count, latent_dim, generator=generator)


__all__ = ["Bottleneck", "GaussianBottleneck"]
