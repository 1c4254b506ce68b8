"""Contractive autoencoder: weight * ||d h / d x||_F^2, the encoder Jacobian's squared
Frobenius norm, averaged over the batch (exact; see aecli.jacobian)."""

from __future__ import annotations

import torch
from torch import Tensor

from aecli.jacobian import squared_jacobian_norm
from aecli.models import Autoencoder, Forward
from aecli.regularizers.base import Regularizer, check_weight


class Contractive(Regularizer):
    name = "contractive"
    needs_grad = True

    def __init__(self, cfg):
        super().__init__(cfg)
        self.weight = check_weight(self.name, cfg.weight)

    def penalty(self, model: Autoencoder, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        norms = squared_jacobian_norm(model, x, create_graph=torch.is_grad_enabled())
        return {self.name: self.weight * norms.mean()}
