"""Datasets: one module per option of the `dataset` config group, each registered in DATASETS."""

from __future__ import annotations

from omegaconf import DictConfig

from aecli.registry import Registry

DATASETS = Registry("dataset", __name__)

from aecli.data.base import Dataset, Split  # noqa: E402  (after DATASETS: option modules import it)

__all__ = ["DATASETS", "Dataset", "Split", "build_dataset"]


def build_dataset(dataset_cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
    """Load the dataset `dataset_cfg` names (on the CPU; move it with `.to`); `data_cfg` says
    where files live (`data.root`) and whether they may be downloaded."""
    return DATASETS.build(dataset_cfg, data_cfg)
