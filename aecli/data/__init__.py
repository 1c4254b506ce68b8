"""Datasets: one module per option of the `dataset` config group, each registered in DATASETS."""

from __future__ import annotations

from omegaconf import DictConfig

from aecli.registry import Registry

DATASETS = Registry("dataset", __name__)

from aecli.data.base import Dataset, Split  # noqa: E402  (after DATASETS: option modules import it)
from aecli.data.binarize import binarized  # noqa: E402
from aecli.data.subsets import exclude_classes, first_training_samples, include_classes  # noqa: E402

__all__ = ["DATASETS", "Dataset", "Split", "build_dataset"]


def build_dataset(dataset_cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
    """Load the dataset `dataset_cfg` names (on the CPU; move it with `.to`); `data_cfg` says
    where files live (`data.root`) and whether they may be downloaded.

    Two settings are applied here, for every loader alike: `train_size` (base.SUBSET; null:
    all) keeps the first N training samples, then a labelled dataset's `exclude_classes` (or
    `include_classes`, the classes kept)
    (base.LABELLED) takes those classes out of train and val (they stay in test)."""
    data = first_training_samples(DATASETS.build(dataset_cfg, data_cfg), dataset_cfg.get("train_size"))
    if "exclude_classes" in dataset_cfg:  # declared by labelled datasets only
        data = exclude_classes(data, list(dataset_cfg.exclude_classes))
    if dataset_cfg.get("binarize", "none") != "none":  # declared by the IDX image sets
        data = binarized(data, str(dataset_cfg.binarize))
    if dataset_cfg.get("include_classes"):
        data = include_classes(data, list(dataset_cfg.include_classes), list(dataset_cfg.get("exclude_classes") or []))
    return data
