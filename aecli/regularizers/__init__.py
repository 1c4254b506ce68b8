"""Regularizers: one class per option of the `regularizer` config group (a list)."""

from __future__ import annotations

from omegaconf import DictConfig

from aecli.errors import UserError
from aecli.regularizers.base import Regularizer
from aecli.regularizers.contractive import Contractive
from aecli.regularizers.denoising import Denoising
from aecli.regularizers.l2 import L2
from aecli.regularizers.sparse import SparseKL, SparseL1
from aecli.regularizers.vae import VAE

__all__ = ["Regularizer", "REGULARIZERS", "VAE", "build_regularizers"]

REGULARIZERS: dict[str, type[Regularizer]] = {
    cls.name: cls for cls in (L2, Denoising, SparseKL, SparseL1, Contractive, VAE)
}


def build_regularizers(cfg: DictConfig | None) -> list[Regularizer]:
    """One regularizer per key of `cfg` (the `regularizer` node), in the order chosen."""
    regularizers = []
    for name, settings in (cfg or {}).items():
        if name not in REGULARIZERS:
            raise UserError(f"unknown regularizer {name!r}; choose from {', '.join(REGULARIZERS)}")
        regularizers.append(REGULARIZERS[name](settings))
    return regularizers
