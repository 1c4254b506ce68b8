"""Regularizers: one module per option of the `regularizer` config group (a list), registered in REGULARIZERS."""

from __future__ import annotations

from omegaconf import DictConfig

from aecli.errors import UserError
from aecli.registry import Registry

REGULARIZERS = Registry("regularizer", __name__)

from aecli.models import Bottleneck  # noqa: E402
from aecli.regularizers.base import Regularizer  # noqa: E402  (after REGULARIZERS: option modules import it)

__all__ = ["REGULARIZERS", "Regularizer", "build_regularizers", "bottleneck_for"]


def build_regularizers(cfg: DictConfig | None) -> list[Regularizer]:
    """One regularizer per key of `cfg` (the `regularizer` node), in the order chosen."""
    return [REGULARIZERS.build(settings, name=name) for name, settings in (cfg or {}).items()]


def bottleneck_for(regularizers: list[Regularizer], latent_dim: int) -> Bottleneck:
    """The code layer the chosen terms need, for a code of `latent_dim` values: plain unless one
    asks for another (the VAE's KL term asks for a Gaussian one, with its prior; the VQ-VAE's a
    quantized one). Two terms that each need their own code layer cannot share a model."""
    wanted = [r for r in regularizers if r.bottleneck is not None]
    if len(wanted) > 1:
        names = " and ".join(r.name for r in wanted)
        raise UserError(f"regularizer={names} each need their own code layer, and a model has one; drop one of them")
    return wanted[0].make_bottleneck(latent_dim) if wanted else Bottleneck()
