"""From what a reader found (a `Source`) to the `Dataset` a run trains on, the same way for
every source: a seeded train/val/test split where the source has none (a given test split is
kept as it is), a `test_size` subset, and optional standardization of vectors (`train_size`
is every dataset's, applied by aecli.data.build_dataset).

The option modules declare which of these settings their YAML carries: `GIVEN_TEST` for
sources with their own test split (the IDX sets, CIFAR-10), `SPLIT_HERE` for the rest.
"""

from __future__ import annotations

import numpy as np
import torch
from omegaconf import DictConfig
from torch import Tensor

from aecli.config.schema import Choice, Float, Int
from aecli.data.base import _BYTE_SCALE, LABELLED, SUBSET, Dataset, Split, split_indices
from aecli.data.source import Source
from aecli.errors import UserError

COUNT = Int(min=1, nullable=True, requirement="be a positive number of samples or null (all)")
FRACTION = Float(min=0, max=1, min_open=True, max_open=True)
SUBSETS = {**SUBSET, "test_size": COUNT, "seed": Int(min=0)}
GIVEN_TEST = {"val_size": Int(min=1), **SUBSETS, **LABELLED}
SPLIT_HERE = {"val_fraction": FRACTION, "test_fraction": FRACTION, **SUBSETS, **LABELLED}
NORMALIZE = {"normalize": Choice("none", "standardize")}


def dataset_from_source(source: Source, cfg: DictConfig, normalize: str = "none") -> Dataset:
    """Split `source` and cut its test split as `cfg` says; vectors are standardized per feature
    with the training split's statistics when `normalize` is "standardize"."""
    generator = torch.Generator().manual_seed(int(cfg.seed))
    if source.test_x is not None:
        val_size = int(cfg.val_size)
        if not 0 < val_size < len(source):
            raise UserError(
                f"dataset.val_size must lie in 1..{len(source) - 1} ({source.origin} has {len(source)} "
                f"training samples), got {val_size}"
            )
        order = torch.randperm(len(source), generator=generator).numpy()
        val_idx, train_idx = order[:val_size], order[val_size:]
        test = (source.test_x, source.test_labels, None, np.arange(len(source.test_x)))
    else:
        train_idx, val_idx, test_idx = (i.numpy() for i in split_indices(
            len(source), float(cfg.val_fraction), float(cfg.test_fraction), generator))
        byte_scale = 1.0 if source.kind == "vector" else _BYTE_SCALE  # byte vectors are numbers; 8-bit images [0, 1]
        if source.mapped and normalize == "none":  # the splits share the file's map, nothing is copied
            store = torch.from_numpy(source.x)  # one tensor over the map, shared by the three splits
            splits = {name: _mapped_split(source, store, idx, byte_scale, cut) for name, idx, cut in
                      (("train", train_idx, None), ("val", val_idx, None), ("test", test_idx, cfg.test_size))}
            extra = _vector_layout(None, "none", source.feature_names, source.x.shape[1]) if source.kind == "vector" else {}
            return _dataset(source, cfg, splits, extra)
        test = _rows(source, test_idx)
    test = tuple(None if a is None else a[: cfg.test_size] for a in test)
    byte_scale = 1.0 if source.kind == "vector" else _BYTE_SCALE
    train, val = _rows(source, train_idx), _rows(source, val_idx)

    extra: dict = {}
    if source.kind == "vector":
        extra = _vector_layout(train[0], normalize, source.feature_names)
        train, val, test = ((_standardized(s[0], extra), *s[1:]) for s in (train, val, test))
    splits = {"train": _split(*train, byte_scale=byte_scale), "val": _split(*val, byte_scale=byte_scale),
              "test": _split(*test, byte_scale=byte_scale)}
    return _dataset(source, cfg, splits, extra)


def _dataset(source: Source, cfg: DictConfig, splits: dict[str, Split], extra: dict) -> Dataset:
    return Dataset(
        name=str(cfg.name),
        **splits,
        kind="image" if source.kind == "image" else "signal",
        factor_names=source.factor_names,
        class_names=source.class_names,
        sample_names=source.sample_names,
        **extra,
    )


def _rows(source: Source, index: np.ndarray) -> tuple:
    """(x, labels, factors, the source's row numbers) of the rows `index`."""
    return (*(None if a is None else a[index] for a in (source.x, source.labels, source.factors)), index)


def _mapped_split(source: Source, store: Tensor, index: np.ndarray, byte_scale: float, cut: int | None) -> Split:
    """The rows `index` (the first `cut` of them) of a memory-mapped source, sharing its map `store`."""
    index = index[:cut]
    take = (lambda a: None if a is None else torch.from_numpy(np.ascontiguousarray(a[index])))
    rows = torch.from_numpy(np.ascontiguousarray(index))
    return Split(store, take(source.labels), take(source.factors), index=rows, byte_scale=byte_scale, source_rows=rows)


def _vector_layout(train_x: np.ndarray | None, normalize: str, names: tuple[str, ...], dims: int | None = None) -> dict:
    """Feature vectors are named by their column (`names`, else their index) and drawn over their
    feature index; standardization uses train statistics."""
    dims = train_x.shape[1] if dims is None else dims
    offset, scale = torch.zeros(dims), torch.ones(dims)
    if normalize == "standardize":
        values = torch.from_numpy(train_x).double()
        offset = values.mean(0).float()
        scale = (values.std(0) if len(values) > 1 else torch.ones(dims)).clamp_min(1e-8).float()
    return {"axis": torch.arange(dims, dtype=torch.float32), "axis_name": "feature", "x_offset": offset, "x_scale": scale,
            "feature_names": names or tuple(str(i) for i in range(dims))}


def _standardized(x: np.ndarray, layout: dict) -> np.ndarray:
    return ((x - layout["x_offset"].numpy()) / layout["x_scale"].numpy()).astype(np.float32)


def _split(x: np.ndarray, labels: np.ndarray | None, factors: np.ndarray | None, rows: np.ndarray,
           byte_scale: float = _BYTE_SCALE) -> Split:
    return Split(_tensor(x), _tensor(labels), _tensor(factors), byte_scale=byte_scale, source_rows=_tensor(rows))


def _tensor(array: np.ndarray | None) -> Tensor | None:
    return None if array is None else torch.from_numpy(np.ascontiguousarray(array))
