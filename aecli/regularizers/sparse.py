"""Sparse autoencoders: a KL penalty pulling sigmoid units' mean activation toward rho,
or an L1 penalty on activations.

Both look at one layer, `layer`: `code` (default) or the k-th hidden layer of the
encoder (1 = the first), counted over the encoder's hidden activations.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from aecli.data import Dataset
from aecli.errors import UserError
from aecli.models import Autoencoder, Forward
from aecli.regularizers.base import Regularizer, check_weight


def kl_sparsity(rho: float, activations: Tensor) -> Tensor:
    """sum_j KL(rho || rho_hat_j), rho_hat_j the batch mean of unit j's activation in (0, 1)."""
    rho_hat = activations.flatten(1).mean(0).clamp(1e-6, 1 - 1e-6)
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


class _LayerPenalty(Regularizer):
    """Shared part: find the chosen layer and capture its activations on every pass."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.weight = check_weight(self.name, cfg.weight)
        self.layer = cfg.layer
        self._captured: Tensor | None = None
        self._module: nn.Module | None = None

    def check(self, model: Autoencoder, data: Dataset) -> None:
        if self.layer == "code":
            return
        hidden = model.hidden_layers
        if not isinstance(self.layer, int) or not 1 <= self.layer <= len(hidden):
            raise UserError(
                f"regularizer.{self.name}.layer must be 'code' or a hidden layer 1..{len(hidden)} of this encoder, "
                f"got {self.layer!r}"
            )
        self._module = hidden[self.layer - 1]
        self._module.register_forward_hook(self._capture)

    def _capture(self, module: nn.Module, inputs: Any, output: Tensor) -> None:
        self._captured = output

    def activations(self, forward: Forward) -> Tensor:
        return forward.code if self._module is None else self._captured


class SparseKL(_LayerPenalty):
    name = "sparse_kl"

    def __init__(self, cfg):
        super().__init__(cfg)
        self.rho = float(cfg.rho)
        if not 0 < self.rho < 1:
            raise UserError(f"regularizer.sparse_kl.rho must lie in (0, 1), got {self.rho}")

    def check(self, model: Autoencoder, data: Dataset) -> None:
        super().check(model, data)
        module = model.encoder[-1] if self._module is None else self._module
        if not isinstance(module, nn.Sigmoid):
            where = (
                "set model.code_activation=sigmoid"
                if self._module is None
                else "set model.activation=sigmoid"
            )
            raise UserError(
                f"regularizer.sparse_kl needs units with values in (0, 1) at layer {self.layer!r}, "
                f"but that layer is not a sigmoid; {where}, or use regularizer=sparse_l1"
            )

    def penalty(self, model: Autoencoder, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        return {self.name: self.weight * kl_sparsity(self.rho, self.activations(forward))}


class SparseL1(_LayerPenalty):
    name = "sparse_l1"

    def penalty(self, model: Autoencoder, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        return {self.name: self.weight * self.activations(forward).flatten(1).abs().sum(1).mean()}
