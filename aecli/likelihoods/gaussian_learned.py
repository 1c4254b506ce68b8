"""Independent Gaussians whose mean and log-variance the decoder outputs per dimension."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor

from aecli.config.schema import Float
from aecli.likelihoods import LIKELIHOODS
from aecli.likelihoods.base import Likelihood, sum_per_sample


class GaussianLearned(Likelihood):
    """The decoder output is (B, 2, *sample_shape): channel 0 the mean, channel 1 a raw
    log-variance that is floored smoothly, logvar = floor + softplus(raw - floor), so a
    dimension the data never varies in (variance-MNIST's background) cannot drive its
    variance to zero and its log-likelihood to +infinity. The loss is
    sum_d [ (x_d - mu_d)^2 / (2 var_d) + logvar_d / 2 + log(2 pi) / 2 ] nats per sample.
    """

    name = "gaussian_learned"
    outputs_per_dim = 2

    def __init__(self, logvar_floor: float = -6.0):
        self.logvar_floor = float(logvar_floor)

    def logvar(self, output: Tensor) -> Tensor:
        return self.logvar_floor + F.softplus(output[:, 1] - self.logvar_floor)

    def nll(self, output: Tensor, x: Tensor) -> Tensor:
        logvar = self.logvar(output)
        squared = (x - output[:, 0]) ** 2 * torch.exp(-logvar)
        return 0.5 * sum_per_sample(squared + logvar + math.log(2 * math.pi))

    def mean(self, output: Tensor) -> Tensor:
        return output[:, 0]

    def std(self, output: Tensor) -> Tensor:
        return torch.exp(0.5 * self.logvar(output))


@LIKELIHOODS.register("gaussian_learned", settings={"logvar_floor": Float()})
def build_gaussian_learned(cfg: DictConfig) -> GaussianLearned:
    return GaussianLearned(cfg.logvar_floor)
