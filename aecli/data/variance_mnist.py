"""variance-MNIST: MNIST whose pixels are multiplied by N(0, 1) noise, so a digit's shape lives
only in the pixel variance."""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch import Tensor

from aecli.data import DATASETS
from aecli.data.assemble import GIVEN_TEST
from aecli.data.base import Dataset, Split
from aecli.data.idx_sets import load_idx_dataset


class VarianceMNIST(Dataset):
    """Training batches are drawn as x * randn_like(x), fresh noise on every draw."""

    def training_batch(self, x: Tensor) -> Tensor:
        return x * torch.randn_like(x)


@DATASETS.register("variance_mnist", settings=GIVEN_TEST)
def load_variance_mnist(cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
    """The training split stays uint8 (noise is drawn per batch); val/test noise is drawn
    once from `cfg.seed`, so evaluations repeat."""
    clean = load_idx_dataset("mnist", cfg, data_cfg)
    generator = torch.Generator().manual_seed(int(cfg.seed) + 1)

    def noisy(split: Split) -> Split:
        return Split(split.x * torch.randn(split.x.shape, generator=generator), split.labels, source_rows=split.source_rows)

    return VarianceMNIST(name=cfg.name, train=clean.train, val=noisy(clean.val), test=noisy(clean.test), kind="image",
                         class_names=clean.class_names)
