"""Independent Bernoulli pixels; the decoder outputs logits. Needs data in [0, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor

from aecli.data import Dataset
from aecli.likelihoods import LIKELIHOODS
from aecli.likelihoods.base import Likelihood, sum_per_sample
from aecli.models import Autoencoder


class Bernoulli(Likelihood):
    name = "bernoulli"
    continuous = False  # a probability of binary values: no density to compare with PPCA

    def nll(self, output: Tensor, x: Tensor) -> Tensor:
        return sum_per_sample(F.binary_cross_entropy_with_logits(output, x, reduction="none"))

    def mean(self, output: Tensor) -> Tensor:
        return torch.sigmoid(output)

    def refusal(self, data: Dataset, model: Autoencoder | None = None) -> str | None:
        low, high = data.value_range()
        if low < 0.0 or high > 1.0:
            return (f"likelihood=bernoulli needs data in [0, 1], but dataset={data.name} spans "
                    f"[{low:.3g}, {high:.3g}]; use likelihood=gaussian")
        return super().refusal(data, model)


@LIKELIHOODS.register("bernoulli")
def build_bernoulli(cfg: DictConfig) -> Bernoulli:
    return Bernoulli()
