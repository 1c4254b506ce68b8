"""What the generated 1-D datasets share (damped_oscillation.py, lines.py): factors drawn at
random or on a grid, curves evaluated at `num_points` positions, noise, a seeded split and
optional standardization. The generating factors are kept beside each curve, so plots and
metrics can ask which latent holds which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from omegaconf import DictConfig
from torch import Tensor

from aecli.config.schema import Choice, Float, FloatRange, Int
from aecli.data.base import SUBSET, Dataset, Split, split_indices

FRACTION = Float(min=0, max=1, min_open=True, max_open=True)
SETTINGS = {
    "num_points": Int(min=2),
    "sampling": Choice("random", "grid", message="{key} must be 'random' or 'grid', got {value!r}"),
    "num_samples": Int(min=3),
    "grid_size": Int(min=2),
    "noise_std": Float(min=0),
    "normalize": Choice("none", "standardize"),
    "val_fraction": FRACTION,
    "test_fraction": FRACTION,
    "seed": Int(min=0),
    **SUBSET,
}


@dataclass(frozen=True)
class CurveFamily:
    """A family of curves: `curve(factors (N, F), axis (P,)) -> (N, P)`, its axis and factors."""

    curve: Callable[[Tensor, Tensor], Tensor]
    axis_key: str
    axis_name: str
    factor_names: tuple[str, ...]

    @property
    def settings(self) -> dict:
        ranges = {f"{name}_range": FloatRange() for name in self.factor_names}
        return {**SETTINGS, self.axis_key: FloatRange(), **ranges}


def draw_factors(
    ranges: list[tuple[float, float]],
    sampling: str,
    num_samples: int,
    grid_size: int,
    generator: torch.Generator,
) -> Tensor:
    """Factor rows (N, F): `num_samples` uniform draws, or the full grid_size^F grid."""
    if sampling == "random":
        low = torch.tensor([r[0] for r in ranges], dtype=torch.float64)
        high = torch.tensor([r[1] for r in ranges], dtype=torch.float64)
        return low + (high - low) * torch.rand(num_samples, len(ranges), generator=generator, dtype=torch.float64)
    axes = [torch.linspace(r[0], r[1], grid_size, dtype=torch.float64) for r in ranges]
    return torch.cartesian_prod(*axes)


def load_curves(family: CurveFamily, cfg: DictConfig) -> Dataset:
    """Generate, split and normalize curves of `family` as `cfg` (a dataset option) says."""
    ranges = [tuple(cfg[f"{name}_range"]) for name in family.factor_names]
    axis_range = cfg[family.axis_key]

    # Separate streams for factors, split and noise: a noisy variant keeps the same curves and split.
    factor_gen, split_gen, noise_gen = (torch.Generator().manual_seed(int(cfg.seed) * 3 + i) for i in range(3))
    factors = draw_factors(ranges, cfg.sampling, int(cfg.num_samples), int(cfg.grid_size), factor_gen)
    axis = torch.linspace(axis_range[0], axis_range[1], int(cfg.num_points), dtype=torch.float64)
    x = family.curve(factors, axis)
    if cfg.noise_std > 0:
        x = x + cfg.noise_std * torch.randn(x.shape, generator=noise_gen, dtype=torch.float64)

    train_idx, val_idx, test_idx = split_indices(len(x), cfg.val_fraction, cfg.test_fraction, split_gen)
    offset, scale = torch.zeros(x.shape[1], dtype=torch.float64), torch.ones(x.shape[1], dtype=torch.float64)
    if cfg.normalize == "standardize":
        offset, scale = x[train_idx].mean(0), x[train_idx].std(0).clamp_min(1e-8)
    x = (x - offset) / scale

    def split(index: Tensor) -> Split:
        return Split(x[index].float(), factors=factors[index].float(), source_rows=index)  # rows of the generated set

    return Dataset(
        name=cfg.name,
        train=split(train_idx),
        val=split(val_idx),
        test=split(test_idx),
        kind="signal",
        factor_names=family.factor_names,
        axis=axis.float(),
        axis_name=family.axis_name,
        x_offset=offset.float(),
        x_scale=scale.float(),
    )
