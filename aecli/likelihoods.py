"""Decoder likelihoods: what the decoder's output means and the reconstruction loss.

Every loss here is a negative log-likelihood in nats *per sample*: summed over the
data dimensions, one value per batch element (the trainer averages over the batch).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor

from aecli.data import Dataset
from aecli.errors import UserError


def _sum_per_sample(values: Tensor) -> Tensor:
    return values.flatten(1).sum(1)


class Likelihood:
    """The interface: `num_params` decoder outputs per data dimension, `nll` and `mean`
    (and `std` where the decoder learns its spread)."""

    name: str = ""
    num_params: int = 1

    def nll(self, output: Tensor, x: Tensor) -> Tensor:
        """Negative log-likelihood of `x` under the decoder `output`, nats per sample, shape (B,)."""
        raise NotImplementedError

    def mean(self, output: Tensor) -> Tensor:
        """The reconstruction in data space (the distribution's mean)."""
        raise NotImplementedError

    def std(self, output: Tensor) -> Tensor | None:
        """The decoder's standard deviation per data dimension where it is learned, else None.

        Pictures draw it beside the mean: on variance-MNIST the digit lives only there.
        """
        return None

    def check_data(self, data: Dataset) -> None:
        """Raise a UserError when this likelihood cannot model `data`."""


class Bernoulli(Likelihood):
    """Independent Bernoulli pixels; the decoder outputs logits."""

    name = "bernoulli"

    def nll(self, output: Tensor, x: Tensor) -> Tensor:
        return _sum_per_sample(F.binary_cross_entropy_with_logits(output, x, reduction="none"))

    def mean(self, output: Tensor) -> Tensor:
        return torch.sigmoid(output)

    def check_data(self, data: Dataset) -> None:
        low, high = data.value_range()
        if low < 0.0 or high > 1.0:
            raise UserError(
                f"likelihood=bernoulli needs data in [0, 1], but dataset={data.name} spans "
                f"[{low:.3g}, {high:.3g}]; use likelihood=gaussian"
            )


class Gaussian(Likelihood):
    """Independent Gaussians with a fixed standard deviation `sigma`; the decoder outputs the mean."""

    name = "gaussian"

    def __init__(self, sigma: float = 1.0):
        if not sigma > 0:
            raise UserError(f"likelihood.sigma must be > 0, got {sigma}")
        self.sigma = float(sigma)
        self._log_norm = math.log(self.sigma) + 0.5 * math.log(2 * math.pi)

    def nll(self, output: Tensor, x: Tensor) -> Tensor:
        squared = _sum_per_sample((x - output) ** 2)
        return squared / (2 * self.sigma**2) + self._log_norm * x[0].numel()

    def mean(self, output: Tensor) -> Tensor:
        return output


class GaussianLearned(Likelihood):
    """Independent Gaussians whose mean and log-variance the decoder outputs per dimension.

    The decoder output is (B, 2, *sample_shape): channel 0 the mean, channel 1 a raw
    log-variance that is floored smoothly, logvar = floor + softplus(raw - floor), so a
    dimension the data never varies in (variance-MNIST's background) cannot drive its
    variance to zero and its log-likelihood to +infinity. The loss is
    sum_d [ (x_d - mu_d)^2 / (2 var_d) + logvar_d / 2 + log(2 pi) / 2 ] nats per sample.
    """

    name = "gaussian_learned"
    num_params = 2

    def __init__(self, logvar_floor: float = -6.0):
        if not isinstance(logvar_floor, (int, float)) or not math.isfinite(logvar_floor):
            raise UserError(f"likelihood.logvar_floor must be a finite number, got {logvar_floor!r}")
        self.logvar_floor = float(logvar_floor)

    def logvar(self, output: Tensor) -> Tensor:
        return self.logvar_floor + F.softplus(output[:, 1] - self.logvar_floor)

    def nll(self, output: Tensor, x: Tensor) -> Tensor:
        logvar = self.logvar(output)
        squared = (x - output[:, 0]) ** 2 * torch.exp(-logvar)
        return 0.5 * _sum_per_sample(squared + logvar + math.log(2 * math.pi))

    def mean(self, output: Tensor) -> Tensor:
        return output[:, 0]

    def std(self, output: Tensor) -> Tensor:
        return torch.exp(0.5 * self.logvar(output))


LIKELIHOODS = {
    "bernoulli": lambda cfg: Bernoulli(),
    "gaussian": lambda cfg: Gaussian(cfg.sigma),
    "gaussian_learned": lambda cfg: GaussianLearned(cfg.logvar_floor),
}


def build_likelihood(cfg: DictConfig) -> Likelihood:
    """The likelihood named by `cfg.name` (an option of the `likelihood` config group)."""
    builder = LIKELIHOODS.get(cfg.name)
    if builder is None:
        raise UserError(f"likelihood={cfg.name} is not available in this version; choose one of {', '.join(LIKELIHOODS)}")
    return builder(cfg)
