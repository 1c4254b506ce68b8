"""Independent Gaussians with a fixed standard deviation `sigma`; the decoder outputs the mean."""

from __future__ import annotations

import math

from omegaconf import DictConfig
from torch import Tensor

from aecli.config.schema import Float
from aecli.likelihoods import LIKELIHOODS
from aecli.likelihoods.base import Likelihood, sum_per_sample


class Gaussian(Likelihood):
    """sum_d [ (x_d - mu_d)^2 / (2 sigma^2) + log(sigma sqrt(2 pi)) ] nats per sample."""

    name = "gaussian"
    squared_error = True

    def __init__(self, sigma: float = 1.0):
        self.sigma = float(sigma)
        self._log_norm = math.log(self.sigma) + 0.5 * math.log(2 * math.pi)

    def nll(self, output: Tensor, x: Tensor) -> Tensor:
        squared = sum_per_sample((x - output) ** 2)
        return squared / (2 * self.sigma**2) + self._log_norm * x[0].numel()

    def mean(self, output: Tensor) -> Tensor:
        return output


@LIKELIHOODS.register("gaussian", settings={"sigma": Float(min=0, min_open=True)})
def build_gaussian(cfg: DictConfig) -> Gaussian:
    return Gaussian(cfg.sigma)
