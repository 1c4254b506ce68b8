"""Datasets: one module per option of the `dataset` config group, each registered in DATASETS."""

from __future__ import annotations

from omegaconf import DictConfig

from aecli.registry import Registry

DATASETS = Registry("dataset", __name__)

from aecli.data.base import Dataset, Split, exclude_classes  # noqa: E402  (after DATASETS: option modules import it)

__all__ = ["DATASETS", "Dataset", "Split", "build_dataset"]


def build_dataset(dataset_cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
    """Load the dataset `dataset_cfg` names (on the CPU; move it with `.to`); `data_cfg` says
    where files live (`data.root`) and whether they may be downloaded.

    A labelled dataset's `exclude_classes` (declared with base.LABELLED) is applied here, for
    every loader alike: those classes leave train and val and stay in test."""
    data = DATASETS.build(dataset_cfg, data_cfg)
    if "exclude_classes" in dataset_cfg:  # declared by labelled datasets only
        data = exclude_classes(data, list(dataset_cfg.exclude_classes))
    return data
