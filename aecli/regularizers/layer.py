"""What the sparse penalties share (sparse_kl.py, sparse_l1.py): they look at one layer,
`layer`: `code` (default) or the k-th hidden layer of the encoder (1 = the first), counted
over the encoder's hidden activations, captured on every pass by a forward hook."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from aecli.config.schema import Float

from aecli.data import Dataset
from aecli.errors import UserError
from aecli.models import Autoencoder, Forward
from aecli.regularizers.base import Regularizer

LAYER_SETTINGS = {"weight": Float(min=0)}  # `layer` ('code' or an int) is checked against the model in `check`


class LayerPenalty(Regularizer):
    """Shared part: find the chosen layer and capture its activations on every pass."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.weight = float(cfg.weight)
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
