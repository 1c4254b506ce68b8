"""The code layer between encoder and decoder: a plain (deterministic) bottleneck or a
Gaussian one (the VAE's), which also holds the VAE's prior p(z).

A bottleneck turns the encoder's last layer into the code the decoder sees. It says how many
encoder outputs each latent dimension takes (`outputs_per_latent`), so a plain autoencoder's
layers and checkpoints stay exactly as they were. The plain and the standard-normal Gaussian
bottleneck have no parameters; the mixture prior's components are the one learned part
(`MixturePriorBottleneck`, `regularizer.vae.prior=mixture`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class Bottleneck(nn.Module):
    """Deterministic: the encoder's output is the code."""

    outputs_per_latent: int = 1
    variational: bool = False
    label: str = "plain"  # how the start line names the code layer
    no_prior: str = "its code is deterministic"  # why there are no prior samples (None from sample_prior)

    def forward(self, h: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The code the decoder sees during a pass, and statistics for regularizers."""
        return h, {}

    def mean(self, h: Tensor) -> Tensor:
        """The deterministic code (what plots and probes use)."""
        return h

    def sample_prior(self, count: int, latent_dim: int, generator: torch.Generator) -> Tensor | None:
        """`count` codes drawn from the prior (on the CPU), or None: a plain code has no prior."""
        return None

    def indices(self, h: Tensor) -> Tensor | None:
        """A discrete code's indices for the encoder's output `h` ((B, slots) int64), or None."""
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
    closed_form_kl = True  # KL(q(z|x) || p(z)) has a closed form, one term per latent

    def forward(self, h: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        mean, logvar = h.chunk(2, dim=1)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        return z, {"mean": mean, "logvar": logvar}

    def mean(self, h: Tensor) -> Tensor:
        return h.chunk(2, dim=1)[0]

    def sample_prior(self, count: int, latent_dim: int, generator: torch.Generator) -> Tensor:
        """Draws from the prior N(0, I)."""
        return torch.randn(count, latent_dim, generator=generator)

    def log_prior(self, z: Tensor) -> Tensor:
        """log p(z) for codes (..., latent_dim), summed over the latents: shape (...)."""
        return log_normal(z, torch.zeros_like(z), torch.zeros_like(z)).sum(-1)

    def kl(self, mean: Tensor, logvar: Tensor, z: Tensor) -> Tensor:
        """KL(q(z|x) || p(z)) per sample, (B,), in nats: here the closed form (`z` unused)."""
        return kl_per_dimension(mean, logvar).sum(1)


class MixturePriorBottleneck(GaussianBottleneck):
    """q(z|x) as GaussianBottleneck; the prior is a learned mixture of `components` Gaussians with
    equal weights, p(z) = (1/K) sum_k N(z; m_k, diag(exp(s_k))).

    The means m_k start as N(0, I) draws and the log-variances s_k at 0; both train with the
    model. The KL to a mixture has no closed form: `kl` is the one-sample estimate
    log q(z|x) - log p(z) at the code z the decoder saw (unbiased, as the reconstruction term).
    """

    label = "Gaussian (mixture prior)"
    closed_form_kl = False

    def __init__(self, components: int, latent_dim: int):
        super().__init__()
        self.prior_means = nn.Parameter(torch.randn(components, latent_dim))
        self.prior_logvars = nn.Parameter(torch.zeros(components, latent_dim))

    def log_prior(self, z: Tensor) -> Tensor:
        per_component = log_normal(z.unsqueeze(-2), self.prior_means, self.prior_logvars).sum(-1)
        return torch.logsumexp(per_component, dim=-1) - math.log(self.prior_means.shape[0])

    def kl(self, mean: Tensor, logvar: Tensor, z: Tensor) -> Tensor:
        return log_normal(z, mean, logvar).sum(-1) - self.log_prior(z)

    def sample_prior(self, count: int, latent_dim: int, generator: torch.Generator) -> Tensor:
        """A uniformly chosen component for each draw, then a draw from it."""
        means, logvars = self.prior_means.detach().cpu(), self.prior_logvars.detach().cpu()
        chosen = torch.randint(len(means), (count,), generator=generator)
        return means[chosen] + (0.5 * logvars[chosen]).exp() * torch.randn(count, latent_dim, generator=generator)


def log_normal(z: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; mean, exp(logvar)) elementwise (broadcast), in nats."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mean).pow(2) * torch.exp(-logvar))


def kl_per_dimension(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)) per sample and latent dimension, in nats, shape (B, latent_dim)."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)


__all__ = ["Bottleneck", "GaussianBottleneck", "MixturePriorBottleneck", "kl_per_dimension", "log_normal"]
