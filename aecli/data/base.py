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

from aecli.config.schema import IntList
from aecli.errors import UserError

# Declared by every labelled dataset (include LABELLED in its registered settings); build_dataset
# then applies it, so a new labelled loader gets anomaly detection without code of its own.
LABELLED = {
    "exclude_classes": IntList(
        min=0, requirement="be a list of class indices (integers >= 0) such as [3] or [], the classes left out of training"
    ),
}


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
    excluded_classes: labels removed from train and val by `dataset.exclude_classes`.
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
    excluded_classes: tuple[int, ...] = ()  # left out of train and val (still in test): the anomalies

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


def exclude_classes(data: Dataset, classes: list[int]) -> Dataset:
    """`data` with the samples of `classes` removed from train and val (the test split keeps
    them: they are the anomalies `aecli evaluate` scores). Any labelled dataset; one place."""
    if not classes:
        return data
    if data.train.labels is None:
        raise UserError(
            f"dataset.exclude_classes={list(classes)} needs labelled data, but {data.name} has no labels; remove the key"
        )
    present = sorted(set(torch.cat([s.labels for s in (data.train, data.val, data.test)]).unique().tolist()))
    unknown = [c for c in classes if c not in present]
    if unknown:
        raise UserError(
            f"dataset.exclude_classes names class {unknown[0]}, which {data.name} does not have; "
            f"choose among {', '.join(map(str, present))}"
        )
    excluded = torch.tensor(sorted(set(classes)))
    kept = {name: _without(getattr(data, name), excluded) for name in ("train", "val")}
    if min(len(split) for split in kept.values()) == 0:
        raise UserError(
            f"dataset.exclude_classes={list(classes)} leaves no training or validation samples; keep at least one class"
        )
    return dataclasses.replace(data, **kept, excluded_classes=tuple(excluded.tolist()))


def _without(split: Split, excluded: Tensor) -> Split:
    keep = ~torch.isin(split.labels, excluded.to(split.labels.device))
    return Split(*(None if t is None else t[keep] for t in (split.x, split.labels, split.factors)))


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
