"""Datasets: one module per option of the `dataset` config group, each registered in DATASETS."""

from __future__ import annotations

from omegaconf import DictConfig

from aecli.registry import Registry

DATASETS = Registry("dataset", __name__)

from aecli.data.base import Dataset, Split  # noqa: E402  (after DATASETS: option modules import it)
from aecli.data.subsets import exclude_classes, first_training_samples  # noqa: E402

__all__ = ["DATASETS", "Dataset", "Split", "build_dataset"]


def build_dataset(dataset_cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
    """Load the dataset `dataset_cfg` names (on the CPU; move it with `.to`); `data_cfg` says
    where files live (`data.root`) and whether they may be downloaded.

    Two settings are applied here, for every loader alike: `train_size` (base.SUBSET; null:
    all) keeps the first N training samples, then a labelled dataset's `exclude_classes`
    (base.LABELLED) takes those classes out of train and val (they stay in test)."""
    data = first_training_samples(DATASETS.build(dataset_cfg, data_cfg), dataset_cfg.get("train_size"))
    if "exclude_classes" in dataset_cfg:  # declared by labelled datasets only
        data = exclude_classes(data, list(dataset_cfg.exclude_classes))
    return data
