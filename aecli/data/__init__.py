"""Datasets: one loader per option of the `dataset` config group."""

from __future__ import annotations

from typing import Callable

from omegaconf import DictConfig

from aecli.data.base import Dataset, Split
from aecli.data.mnist import load_mnist, load_variance_mnist
from aecli.data.synthetic import load_synthetic
from aecli.errors import UserError

__all__ = ["Dataset", "Split", "build_dataset", "LOADERS"]

LOADERS: dict[str, Callable[[DictConfig, DictConfig], Dataset]] = {
    "mnist": load_mnist,
    "variance_mnist": load_variance_mnist,
    "damped_oscillation": lambda cfg, data_cfg: load_synthetic(cfg),
    "lines": lambda cfg, data_cfg: load_synthetic(cfg),
}


def build_dataset(dataset_cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
    """Load the dataset named by `dataset_cfg.name` (on the CPU; move it with `.to`)."""
    loader = LOADERS.get(dataset_cfg.name)
    if loader is None:
        raise UserError(f"unknown dataset {dataset_cfg.name!r}; choose one of {', '.join(LOADERS)}")
    return loader(dataset_cfg, data_cfg)
