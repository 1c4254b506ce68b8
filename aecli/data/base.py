"""The in-memory dataset every loader returns.

A dataset is three splits of tensors held whole and batched by index, so no per-sample
Python runs in the hot path. 8-bit sources stay uint8 (a quarter of float32's memory) and
are scaled to [0, 1] batch by batch as they are handed out; a split that does not fit in
the training device's free memory stays in host memory and is streamed batch by batch.
Every consumer asks a split for float batches (`batch`, `batches`) and never sees how it
is stored. Labels (class indices) or generating factors travel with each split.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from aecli.config.schema import Int, IntList
from aecli.errors import UserError

_BYTE_SCALE = 1.0 / 255.0
VALUE_CHUNK = 65_536  # rows read at a time from a shared store (a memory map) to find its value range
# Declared by every dataset option (include SUBSET in its registered settings); build_dataset
# applies it, the one knob that cuts the training split, so every loader has it without code of its own.
SUBSET = {
    "train_size": Int(min=1, nullable=True, requirement="be a positive number of samples or null (all)", old=None),
}
# Declared by every labelled dataset (include LABELLED in its registered settings); build_dataset
# then applies it, so a new labelled loader gets anomaly detection without code of its own.
LABELLED = {
    "exclude_classes": IntList(
        min=0, requirement="be a list of class indices (integers >= 0) such as [3] or [], the classes left out of training",
        old=[],
    ),
    "include_classes": IntList(
        min=0, requirement="be a list of class indices (integers >= 0) such as [3] or [], the only classes trained on",
        old=[],
    ),
}


@dataclass
class Split:
    """One split: samples (N, *sample_shape), optional `labels` (N,) and `factors` (N, F).

    stored: the samples as kept, uint8 in 0..255 (handed out as float in [0, 1]) or float.
    device: where batches are handed out; None means where `stored` lives. It differs from
    `stored.device` only when the samples are streamed from host memory.
    index: the rows of `stored` this split holds, when the splits share one store that is not
        copied (a memory-mapped file: aecli.data.arrays, aecli.data.image_folder); None: every row.
        Batches gather their rows from the store, so a split never reads more of it than it uses.
    byte_scale: what uint8 samples are multiplied by when handed out: 1/255 (8-bit images, to
        [0, 1]) or 1 (byte-valued vectors, as the file holds them).
    source_rows: each sample's row in what its reader read (a file's sample number; a given test
        split's, in its own file), the provenance `aecli encode` writes; None where unknown.
    """

    stored: Tensor
    labels: Tensor | None = None
    factors: Tensor | None = None
    device: torch.device | None = None
    index: Tensor | None = None
    byte_scale: float = _BYTE_SCALE
    source_rows: Tensor | None = None

    def __len__(self) -> int:
        return self.stored.shape[0] if self.index is None else len(self.index)

    @property
    def compute_device(self) -> torch.device:
        return self.device if self.device is not None else self.stored.device

    @property
    def streamed(self) -> bool:
        return self.stored.device != self.compute_device

    def stored_rows(self, index: slice | Tensor) -> Tensor:
        """The samples at `index` (a slice or a tensor of row indices) as stored, where they are stored."""
        if self.index is not None:
            index = self.index[index] if isinstance(index, slice) else self.index[index.to(self.index.device)]
        if isinstance(index, slice):
            return self.stored[index]
        return self.stored.index_select(0, index.to(self.stored.device))

    def batch(self, index: slice | Tensor) -> Tensor:
        """Float samples at `index` (a slice or a tensor of row indices), on the compute device."""
        return self.as_batch(self.pinned_rows(index))

    def pinned_rows(self, index: slice | Tensor) -> Tensor:
        """`stored_rows`, in pinned memory when they are streamed to a GPU (so the copy overlaps the work)."""
        rows = self.stored_rows(index)
        return rows.pin_memory() if self.streamed and self.compute_device.type == "cuda" else rows

    def as_batch(self, rows: Tensor) -> Tensor:
        """Stored rows as the float batch handed out, on the compute device."""
        return as_float(rows.to(self.compute_device, non_blocking=True), self.byte_scale)

    def rows(self, index: slice | Tensor) -> Split:
        """The split of the samples at `index` (a slice, row indices or a boolean mask), with
        their labels and factors, stored as these are and handed out on the same device (a split
        of a shared store keeps sharing it)."""
        def take(t: Tensor | None) -> Tensor | None:
            return None if t is None else (t[index] if isinstance(index, slice) else t[index.to(t.device)])

        if self.index is not None:
            return Split(self.stored, take(self.labels), take(self.factors), self.device, take(self.index), self.byte_scale,
                         take(self.source_rows))
        return Split(take(self.stored), take(self.labels), take(self.factors), self.device, byte_scale=self.byte_scale,
                     source_rows=take(self.source_rows))

    def subset(self, rows: int | None, seed: int = 0) -> Split:
        """`rows` of the samples (with their labels and factors), drawn without replacement by a
        fixed-seed generator and kept in order: the same draw every time; None or at least all: the split."""
        if rows is None or rows >= len(self):
            return self
        return self.rows(torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:rows].sort().values)

    def batches(self, batch_size: int) -> Iterator[Tensor]:
        """The whole split in order, as float batches of at most `batch_size` samples."""
        for start in range(0, len(self), batch_size):
            yield self.batch(slice(start, start + batch_size))

    def labelled_batches(self, batch_size: int) -> Iterator[tuple[Tensor, Tensor | None]]:
        """`batches` with each batch's labels on the compute device (None for unlabelled data)."""
        for start in range(0, len(self), batch_size):
            index = slice(start, start + batch_size)
            yield self.batch(index), self.batch_labels(index)

    def batch_labels(self, index: slice | Tensor) -> Tensor | None:
        """The labels at `index`, on the compute device; None for unlabelled data."""
        if self.labels is None:
            return None
        rows = self.labels[index] if isinstance(index, slice) else self.labels[index.to(self.labels.device)]
        return rows.to(self.compute_device, non_blocking=True)

    @property
    def x(self) -> Tensor:
        """The whole split as float on the compute device (a copy for uint8 or streamed
        samples: loops over a large split use `batch`/`batches` instead)."""
        return self.batch(slice(None))

    def value_range(self) -> tuple[float, float]:
        """The smallest and largest sample value as handed out (a shared store: read in chunks)."""
        scale = self.byte_scale if self.stored.dtype == torch.uint8 else 1.0
        if self.index is None:
            return self.stored.min().item() * scale, self.stored.max().item() * scale
        chunks = [self.stored_rows(slice(start, start + VALUE_CHUNK)) for start in range(0, len(self), VALUE_CHUNK)]
        low = min(chunk.min().item() for chunk in chunks) if chunks else 0.0
        high = max(chunk.max().item() for chunk in chunks) if chunks else 0.0
        return low * scale, high * scale

    def to(self, device: torch.device | str, stream: bool = False) -> Split:
        """This split computing on `device`; with `stream` its samples stay where they are."""
        device = torch.device(device)
        labels, factors = (None if t is None else t.to(device) for t in (self.labels, self.factors))
        stored = self.stored if stream else self.stored.to(device)
        index = None if self.index is None else self.index.to(stored.device)
        return Split(stored, labels, factors, device, index, self.byte_scale, self.source_rows)


@dataclass
class Dataset:
    """Train/val/test splits plus what plots and checks need to know about the data.

    kind: "image" (samples are C x H x W) or "signal" (1-D curves or feature vectors,
    drawn over `axis`, or over the feature index when `axis` is None).
    x_offset, x_scale: the normalization applied, raw = x * x_scale + x_offset.
    feature_names: vectors read from a user's table or array: the name of each column (a CSV
    header, else the column's index); such features have no order, so pictures draw them as named
    columns, not as a curve. Empty for images and for curves over `axis`.
    class_names: the name of each label value (legends, projector, reports); empty: the
    labels are shown as numbers.
    placement: how the samples are held, for the start line (set by `to`).
    excluded_classes: labels removed from train and val by `dataset.exclude_classes`.
    sample_names: the name of each row the reader read (an image folder's files, relative to it),
        indexed by a split's `source_rows`; empty when the samples have no names.
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
    feature_names: tuple[str, ...] = ()
    class_names: tuple[str, ...] = ()
    placement: str = "in memory"
    excluded_classes: tuple[int, ...] = ()  # left out of train and val (still in test): the anomalies
    sample_names: tuple[str, ...] = ()

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.train.stored.shape[1:])

    @property
    def num_classes(self) -> int:
        """The number of label values (a conditional model's one-hot width): the named classes, or
        the largest label of any split + 1; 0 for unlabelled data."""
        if self.train.labels is None:
            return 0
        largest = max(int(s.labels.max()) for s in (self.train, self.val, self.test) if s.labels is not None and len(s.labels))
        return max(len(self.class_names), largest + 1)

    def training_batch(self, x: Tensor) -> Tensor:
        """Turn a float batch of stored training samples into the batch the model sees (identity here)."""
        return x

    def value_range(self) -> tuple[float, float]:
        """The smallest and largest value a model may be asked to reconstruct."""
        lows, highs = zip(*(s.value_range() for s in (self.train, self.val, self.test)))
        return min(lows), max(highs)

    def normalize(self, x: Tensor) -> Tensor:
        """Samples in the data's own scale (uint8 images 0..255, or values as the files hold them)
        as the model sees them, float32: the inverse of `denormalize`."""
        x = as_float(x, self.train.byte_scale).float()
        return (x - _on(self.x_offset, x)) / _on(self.x_scale, x)

    def denormalize(self, x: Tensor) -> Tensor:
        """What the model sees (or outputs) in the data's own scale: raw = x * x_scale + x_offset."""
        return x * _on(self.x_scale, x) + _on(self.x_offset, x)

    def class_name(self, label: int) -> str:
        return self.class_names[label] if 0 <= label < len(self.class_names) else str(label)

    @property
    def nbytes(self) -> int:
        """Bytes the samples take as stored (a tensor shared by several splits counted once)."""
        unique = {id(s.stored): s.stored for s in (self.train, self.val, self.test)}
        return sum(t.numel() * t.element_size() for t in unique.values())

    def to(self, device: torch.device | str, free_bytes: int | None = None) -> Dataset:
        """This dataset computing on `device`. The samples move there when they fit in
        `free_bytes` (None: no limit), else they stay in host memory and are streamed."""
        device = torch.device(device)
        stream = device.type != "cpu" and free_bytes is not None and self.nbytes > free_bytes
        moved = {name: getattr(self, name).to(device, stream) for name in ("train", "val", "test")}
        dtype = str(self.train.stored.dtype).removeprefix("torch.")
        size = f"{self.nbytes / 2**20:,.1f} MiB"
        mapped = self.train.index is not None and device.type == "cpu" or stream and self.train.index is not None
        if stream:
            held = "memory-mapped" if mapped else "in host memory"
            placement = (f"{dtype} {held} ({size}, more than the {free_bytes / 2**20:,.0f} MiB free "
                         f"on {device}), streamed per batch")
        elif mapped:
            placement = f"{dtype} memory-mapped from its file ({size}), each batch's rows read as it is used"
        else:
            placement = f"{dtype} on {device} ({size})"
        return dataclasses.replace(self, **moved, placement=placement)


def as_float(samples: Tensor, byte_scale: float = _BYTE_SCALE) -> Tensor:
    """uint8 samples (0..255) as float times `byte_scale` (a new tensor: [0, 1] for 8-bit
    images); other samples as they are."""
    if samples.dtype != torch.uint8:
        return samples
    return samples.float().div_(255.0) if byte_scale == _BYTE_SCALE else samples.float().mul_(byte_scale)


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
            f"{num_samples}; lower them or use more samples"
        )
    order = torch.randperm(num_samples, generator=generator)
    return order[num_val + num_test :], order[:num_val], order[num_val : num_val + num_test]
