"""Damped oscillations x(t) = exp(-b t / 2) cos(sqrt(k) (1 - b^2 / (4 k)) t); factors (k, b)."""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch import Tensor

from aecli.data import DATASETS
from aecli.data.base import Dataset
from aecli.data.synthetic import CurveFamily, load_curves


def damped_oscillation(factors: Tensor, t: Tensor) -> Tensor:
    """x(t) for factor rows (k, b); the frequency term is written exactly as in the lecture notes."""
    k, b = factors[:, :1], factors[:, 1:2]
    return torch.exp(-b * t / 2) * torch.cos(torch.sqrt(k) * (1 - b**2 / (4 * k)) * t)


OSCILLATIONS = CurveFamily(damped_oscillation, "t_range", "t", ("k", "b"))


@DATASETS.register("damped_oscillation", settings=OSCILLATIONS.settings)
def load_damped_oscillation(cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
    return load_curves(OSCILLATIONS, cfg)
