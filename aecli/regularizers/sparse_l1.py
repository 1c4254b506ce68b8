"""L1 sparsity: weight * sum_j |h_j| per sample, on the chosen layer's activations."""

from __future__ import annotations

from torch import Tensor

from aecli.models import Autoencoder, Forward
from aecli.regularizers import REGULARIZERS
from aecli.regularizers.layer import LAYER_SETTINGS, LayerPenalty


class SparseL1(LayerPenalty):
    name = "sparse_l1"

    def penalty(self, model: Autoencoder, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        return {self.name: self.weight * self.activations(forward).flatten(1).abs().sum(1).mean()}


REGULARIZERS.register("sparse_l1", settings=LAYER_SETTINGS)(SparseL1)
