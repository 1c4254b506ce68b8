"""Binarized images, the data of the VAE likelihood literature (`dataset.binarize`, the IDX image
sets): every pixel becomes 0 or 1, drawn as a Bernoulli variable with the grey level as its
probability.

- `dynamic` (Burda et al. 2016, the IWAE table): the training images are drawn anew every time
  a batch is handed out, so each epoch sees a new binarization; validation and test images are
  drawn once, from the fixed seed FIXED_DRAW_SEED, the same for every run whatever its seed, so
  runs are scored on the same binary test set.
- `static`: one fixed draw of every split (FIXED_DRAW_SEED). This is not the file of Larochelle
  and Murray (2011) that "statically binarized MNIST" usually names: its figures are close to,
  not the same as, that set's.

Binary samples stay uint8 (0 or 255, handed out as 0 or 1).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from aecli.config.schema import Choice
from aecli.data.base import Dataset, Split

MODES = ("none", "dynamic", "static")
BINARIZE = {"binarize": Choice(*MODES, old="none")}
FIXED_DRAW_SEED = 0  # the one draw of the fixed splits, for every run


@dataclasses.dataclass
class DynamicallyBinarized(Dataset):
    """A dataset whose training batches are binarized as they are handed out (torch's generator)."""

    def training_batch(self, x: Tensor) -> Tensor:
        return torch.bernoulli(x)


def binarized(data: Dataset, mode: str) -> Dataset:
    """`data` binarized as `mode` says (see the module docstring); "none" leaves it as it is."""
    if mode == "none":
        return data
    generator = torch.Generator().manual_seed(FIXED_DRAW_SEED)
    fixed = {name: _drawn(getattr(data, name), generator) for name in ("val", "test")}
    if mode == "static":
        return dataclasses.replace(data, train=_drawn(data.train, generator), **fixed)
    fields = {field.name: getattr(data, field.name) for field in dataclasses.fields(data)}
    return DynamicallyBinarized(**{**fields, **fixed})


def _drawn(split: Split, generator: torch.Generator) -> Split:
    """`split` with every pixel drawn once: uint8 0 or 255, in chunks (the split may be a memory map)."""
    rows = []
    for start in range(0, len(split), 65_536):
        grey = split.batch(slice(start, start + 65_536)).cpu()
        rows.append((torch.bernoulli(grey, generator=generator) * 255).to(torch.uint8))
    stored = torch.cat(rows) if rows else split.stored[:0]
    return Split(stored.to(split.stored.device), split.labels, split.factors, split.device, source_rows=split.source_rows)
