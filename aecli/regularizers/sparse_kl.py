"""KL sparsity: weight * sum_j KL(rho || rho_hat_j), rho_hat_j the batch-mean activation of
sigmoid unit j of the chosen layer (the classic sparse autoencoder)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from aecli.config.schema import Float
from aecli.data import Dataset
from aecli.errors import UserError
from aecli.models import Autoencoder, Forward
from aecli.regularizers import REGULARIZERS
from aecli.regularizers.layer import LAYER_SETTINGS, LayerPenalty


def kl_sparsity(rho: float, activations: Tensor) -> Tensor:
    """sum_j KL(rho || rho_hat_j), rho_hat_j the batch mean of unit j's activation in (0, 1)."""
    rho_hat = activations.flatten(1).mean(0).clamp(1e-6, 1 - 1e-6)
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


class SparseKL(LayerPenalty):
    name = "sparse_kl"

    def __init__(self, cfg):
        super().__init__(cfg)
        self.rho = float(cfg.rho)
        if self.layer == "code":  # KL(rho || rho_hat) needs units in (0, 1): the run brings a sigmoid code
            self.code_activation = "sigmoid"

    def check(self, model: Autoencoder, data: Dataset) -> None:
        super().check(model, data)
        module = model.encoder[-1] if self._module is None else self._module
        if not isinstance(module, nn.Sigmoid):
            where = "set model.code_activation=sigmoid" if self._module is None else "set model.activation=sigmoid"
            raise UserError(
                f"regularizer.sparse_kl needs units with values in (0, 1) at layer {self.layer!r}, "
                f"but that layer is not a sigmoid; {where}, or use regularizer=sparse_l1"
            )

    def penalty(self, model: Autoencoder, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        return {self.name: self.weight * kl_sparsity(self.rho, self.activations(forward))}


RHO = Float(min=0, max=1, min_open=True, max_open=True)
REGULARIZERS.register("sparse_kl", settings={**LAYER_SETTINGS, "rho": RHO})(SparseKL)
