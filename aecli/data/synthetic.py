"""The generated 1-D datasets: damped oscillations and straight lines.

Each sample is a curve evaluated at `num_points` positions; the generating factors
that made it are kept beside it, so plots and metrics can ask which latent holds which.
"""

from __future__ import annotations

import math

import torch
from omegaconf import DictConfig
from torch import Tensor

from aecli.data.base import Dataset, Split, split_indices
from aecli.errors import UserError

NORMALIZATIONS = ("none", "standardize")


def damped_oscillation(factors: Tensor, t: Tensor) -> Tensor:
    """x(t) = exp(-b t / 2) cos(sqrt(k) (1 - b^2 / (4 k)) t) for factor rows (k, b).

    The frequency term is written exactly as in the lecture notes.
    """
    k, b = factors[:, :1], factors[:, 1:2]
    return torch.exp(-b * t / 2) * torch.cos(torch.sqrt(k) * (1 - b**2 / (4 * k)) * t)


def line(factors: Tensor, x: Tensor) -> Tensor:
    """y = a x + b for factor rows (a, b)."""
    return factors[:, :1] * x + factors[:, 1:2]


# name -> (curve function, axis key, axis name, factor names)
FAMILIES = {
    "damped_oscillation": (damped_oscillation, "t_range", "t", ("k", "b")),
    "lines": (line, "x_range", "x", ("a", "b")),
}


def draw_factors(
    ranges: list[tuple[float, float]],
    sampling: str,
    num_samples: int,
    grid_size: int,
    generator: torch.Generator,
) -> Tensor:
    """Factor rows (N, F): `num_samples` uniform draws, or the full grid_size^F grid."""
    if sampling == "random":
        if num_samples < 3:
            raise UserError(f"dataset.num_samples must be at least 3, got {num_samples}")
        low = torch.tensor([r[0] for r in ranges], dtype=torch.float64)
        high = torch.tensor([r[1] for r in ranges], dtype=torch.float64)
        return low + (high - low) * torch.rand(num_samples, len(ranges), generator=generator, dtype=torch.float64)
    if sampling == "grid":
        if grid_size < 2:
            raise UserError(f"dataset.grid_size must be at least 2, got {grid_size}")
        axes = [torch.linspace(r[0], r[1], grid_size, dtype=torch.float64) for r in ranges]
        return torch.cartesian_prod(*axes)
    raise UserError(f"dataset.sampling must be 'random' or 'grid', got {sampling!r}")


def load_synthetic(cfg: DictConfig) -> Dataset:
    """Generate, split and normalize one of the curve families named by `cfg.name`."""
    curve, axis_key, axis_name, factor_names = FAMILIES[cfg.name]
    ranges = [_range(cfg, f"{name}_range") for name in factor_names]
    axis_range = _range(cfg, axis_key)
    if cfg.num_points < 2:
        raise UserError(f"dataset.num_points must be at least 2, got {cfg.num_points}")
    if cfg.noise_std < 0:
        raise UserError(f"dataset.noise_std must be >= 0, got {cfg.noise_std}")
    if cfg.normalize not in NORMALIZATIONS:
        raise UserError(f"dataset.normalize must be one of {', '.join(NORMALIZATIONS)}, got {cfg.normalize!r}")

    # Separate streams for factors, split and noise: a noisy variant keeps the same curves and split.
    factor_gen, split_gen, noise_gen = (torch.Generator().manual_seed(int(cfg.seed) * 3 + i) for i in range(3))
    factors = draw_factors(ranges, cfg.sampling, int(cfg.num_samples), int(cfg.grid_size), factor_gen)
    axis = torch.linspace(axis_range[0], axis_range[1], int(cfg.num_points), dtype=torch.float64)
    x = curve(factors, axis)
    if cfg.noise_std > 0:
        x = x + cfg.noise_std * torch.randn(x.shape, generator=noise_gen, dtype=torch.float64)

    train_idx, val_idx, test_idx = split_indices(len(x), cfg.val_fraction, cfg.test_fraction, split_gen)
    offset, scale = torch.zeros(x.shape[1], dtype=torch.float64), torch.ones(x.shape[1], dtype=torch.float64)
    if cfg.normalize == "standardize":
        offset, scale = x[train_idx].mean(0), x[train_idx].std(0).clamp_min(1e-8)
    x = (x - offset) / scale

    def split(index: Tensor) -> Split:
        return Split(x=x[index].float(), factors=factors[index].float())

    return Dataset(
        name=cfg.name,
        train=split(train_idx),
        val=split(val_idx),
        test=split(test_idx),
        kind="signal",
        factor_names=factor_names,
        axis=axis.float(),
        axis_name=axis_name,
        x_offset=offset.float(),
        x_scale=scale.float(),
    )


def _range(cfg: DictConfig, key: str) -> tuple[float, float]:
    value = cfg[key]
    if len(value) != 2 or not (math.isfinite(value[0]) and math.isfinite(value[1])) or value[0] >= value[1]:
        raise UserError(f"dataset.{key} must be two finite numbers [low, high] with low < high, got {list(value)}")
    return float(value[0]), float(value[1])
