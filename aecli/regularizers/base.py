"""The regularizer interface: what keeps an autoencoder from learning the identity.

A regularizer may corrupt the training input (`corrupt`) and/or add named penalty
terms to the loss (`penalty`); every term is logged under its own name. Regularizers
compose: `regularizer=[denoising,sparse_kl]` applies each corruption in turn and
adds every penalty. Two optional hooks: `start_epoch` (for schedules such as a
warm-up) and `diagnostics` (named figures logged beside the loss, never optimized).
"""

from __future__ import annotations

from omegaconf import DictConfig
from torch import Tensor

from aecli.data import Dataset
from aecli.errors import UserError
from aecli.models import Autoencoder, Forward


class Regularizer:
    name: str = ""
    needs_grad: bool = False  # True: the penalty differentiates the model, so evaluation cannot run in inference mode

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg

    def corrupt(self, x: Tensor) -> Tensor:
        """The input the encoder sees during training (never applied at evaluation)."""
        return x

    def penalty(self, model: Autoencoder, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        """Named, already weighted penalty terms for one batch, each a scalar averaged over the batch.

        x: the input the encoder saw (after any corruption); forward: the model's pass on it.
        """
        return {}

    def diagnostics(self, model: Autoencoder, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        """Named scalars, averaged over the batch, logged beside the loss terms (train/, val/,
        test/ and metrics.json) but not added to the loss; computed without gradients."""
        return {}

    def start_epoch(self, epoch: int) -> None:
        """Called by the trainer before each training epoch (1-based), e.g. to step a schedule."""

    def check(self, model: Autoencoder, data: Dataset) -> None:
        """Raise a UserError, before training, when this regularizer cannot work here."""


def check_weight(name: str, weight: float) -> float:
    if not isinstance(weight, (int, float)) or weight < 0:
        raise UserError(f"regularizer.{name}.weight must be a number >= 0, got {weight!r}")
    return float(weight)
