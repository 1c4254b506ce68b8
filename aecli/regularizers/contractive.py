"""Contractive autoencoder: weight * ||d h / d x||_F^2, the encoder Jacobian's squared
Frobenius norm, averaged over the batch: exact (latent_dim vector-Jacobian products per step),
or with `projections: N` its unbiased estimate from N random projections (aecli.models.jacobian)."""

from __future__ import annotations

import torch
from torch import Tensor

from aecli.config.schema import Float, Int
from aecli.models import Autoencoder, Forward
from aecli.models.jacobian import squared_jacobian_norm
from aecli.regularizers import REGULARIZERS
from aecli.regularizers.base import Regularizer


class Contractive(Regularizer):
    name = "contractive"
    needs_grad = True

    def __init__(self, cfg):
        super().__init__(cfg)
        self.weight = float(cfg.weight)
        self.projections = None if cfg.projections is None else int(cfg.projections)

    def penalty(self, model: Autoencoder, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        norms = squared_jacobian_norm(model, x, create_graph=torch.is_grad_enabled(), projections=self.projections,
                                      y=forward.labels)
        return {self.name: self.weight * norms.mean()}


REGULARIZERS.register("contractive", settings={
    "weight": Float(min=0),
    "projections": Int(min=1, nullable=True, requirement="be a positive integer (random projections) or null (exact)", old=None),
})(Contractive)
