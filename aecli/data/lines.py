"""Straight lines y = a x + b sampled on x_range; generating factors (a, b)."""

from __future__ import annotations

from omegaconf import DictConfig
from torch import Tensor

from aecli.data import DATASETS
from aecli.data.base import Dataset
from aecli.data.synthetic import CurveFamily, load_curves


def line(factors: Tensor, x: Tensor) -> Tensor:
    """y = a x + b for factor rows (a, b)."""
    return factors[:, :1] * x + factors[:, 1:2]


LINES = CurveFamily(line, "x_range", "x", ("a", "b"))


@DATASETS.register("lines", settings=LINES.settings)
def load_lines(cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
    return load_curves(LINES, cfg)
