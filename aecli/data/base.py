"""The in-memory dataset every loader returns.

A dataset is three splits of tensors held whole (on the training device once
`to` is called) and batched by index, so no per-sample Python runs in the hot
path. Labels (MNIST) or generating factors (synthetic sets) travel with each split.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from aecli.errors import UserError


@dataclass
class Split:
    """One split: samples `x` (N, *sample_shape), optional `labels` (N,) and `factors` (N, F)."""

    x: Tensor
    labels: Tensor | None = None
    factors: Tensor | None = None

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device | str) -> Split:
        return Split(*(None if t is None else t.to(device) for t in (self.x, self.labels, self.factors)))


@dataclass
class Dataset:
    """Train/val/test splits plus what plots and checks need to know about the data.

    kind: "image" (samples are C x H x W) or "signal" (1-D curves sampled on `axis`).
    x_offset, x_scale: the normalization applied, raw = x * x_scale + x_offset.
    """

    name: str
    train: Split
    val: Split
    test: Split
    kind: str
    factor_names: tuple[str, ...] = ()
    axis: Tensor | None = None
    axis_name: str = ""
    x_offset: Tensor | float = 0.0
    x_scale: Tensor | float = 1.0

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    def training_batch(self, x: Tensor) -> Tensor:
        """Turn stored training samples into the batch the model sees (identity here)."""
        return x

    def value_range(self) -> tuple[float, float]:
        """The smallest and largest value a model may be asked to reconstruct."""
        lows, highs = zip(*((s.x.min().item(), s.x.max().item()) for s in (self.train, self.val, self.test)))
        return min(lows), max(highs)

    def denormalize(self, x: Tensor) -> Tensor:
        return x * _on(self.x_scale, x) + _on(self.x_offset, x)

    def to(self, device: torch.device | str) -> Dataset:
        moved = {name: getattr(self, name).to(device) for name in ("train", "val", "test")}
        return dataclasses.replace(self, **moved)


def _on(value: Tensor | float, like: Tensor) -> Tensor | float:
    return value.to(like.device, like.dtype) if isinstance(value, Tensor) else value


def split_indices(
    num_samples: int, val_fraction: float, test_fraction: float, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """A seeded random partition into train, val and test indices (fractions in (0, 1))."""
    num_val = max(1, round(num_samples * val_fraction))
    num_test = max(1, round(num_samples * test_fraction))
    if num_val + num_test >= num_samples:
        raise UserError(
            f"dataset.val_fraction + dataset.test_fraction leave no training samples out of "
            f"{num_samples}; lower them or generate more samples"
        )
    order = torch.randperm(num_samples, generator=generator)
    return order[num_val + num_test :], order[:num_val], order[num_val : num_val + num_test]
