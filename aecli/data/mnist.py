"""MNIST: 28x28 digits in [0, 1], read straight from the IDX files (aecli.data.idx)."""

from __future__ import annotations

import numpy as np
import torch
from omegaconf import DictConfig
from torch import Tensor

from aecli.config.schema import Int
from aecli.data import DATASETS
from aecli.data.base import LABELLED, Dataset, Split
from aecli.data.idx import locate_mnist, read_idx
from aecli.errors import UserError

IMAGE_COUNT = Int(min=1, nullable=True, requirement="be a positive number of images or null")
SETTINGS = {
    "val_size": Int(min=1), "train_size": IMAGE_COUNT, "test_size": IMAGE_COUNT, "seed": Int(min=0), **LABELLED,
}


def load_mnist_arrays(root: str | None, download: bool) -> dict[str, np.ndarray]:
    arrays = {key: read_idx(path) for key, path in locate_mnist(root, download).items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise UserError(
                f"MNIST {split} files disagree: images {images.shape}, labels {labels.shape}; "
                f"replace them with the original files"
            )
    return arrays


@DATASETS.register("mnist", settings=SETTINGS)
def load_mnist(cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
    """MNIST as float images in [0, 1], shape (N, 1, 28, 28), with digit labels."""
    arrays = load_mnist_arrays(data_cfg.root, bool(data_cfg.download))
    train_pixels, train_y = arrays["train_images"], torch.from_numpy(arrays["train_labels"].astype(np.int64))
    test_pixels, test_y = arrays["test_images"], torch.from_numpy(arrays["test_labels"].astype(np.int64))

    val_size = int(cfg.val_size)
    if not 0 < val_size < len(train_pixels):
        raise UserError(f"dataset.val_size must lie in 1..{len(train_pixels) - 1}, got {val_size}")
    order = torch.randperm(len(train_pixels), generator=torch.Generator().manual_seed(int(cfg.seed)))
    val_idx, train_idx = order[:val_size], order[val_size:]
    train_idx = train_idx[: cfg.train_size]
    test_end = cfg.test_size
    # Only the images used are converted to float (a small train_size then loads in a fraction of the time).
    return Dataset(
        name=cfg.name,
        train=Split(_images(train_pixels[train_idx.numpy()]), train_y[train_idx]),
        val=Split(_images(train_pixels[val_idx.numpy()]), train_y[val_idx]),
        test=Split(_images(test_pixels[:test_end]), test_y[:test_end]),
        kind="image",
    )


def _images(array: np.ndarray) -> Tensor:
    return torch.from_numpy(array.astype(np.float32) / 255.0).unsqueeze(1)
