"""A user's own arrays: a `.npy` file (samples only) or a `.npz` file (samples, labels, factors).

`.npz` keys: `x` (required), `y` (labels, one per sample: integers or text), `factors`
((N,) or (N, F) numbers). Files are loaded with `allow_pickle=False`, so they cannot run
code; save text labels as a string array (`np.array(labels, dtype=str)`), not objects.
`x` may hold vectors (N, D) or images (N, H, W), (N, H, W, C) or (N, C, H, W); the
`layout` argument says which when the shape alone cannot. The dataset option `array` reads
`dataset.path` with `dataset.layout` and splits it (seeded) into train/val/test.

A `.npy` file is memory-mapped, not read: its samples stay in the file (the page cache), each
batch reads its own rows, so a file larger than memory trains. It stays mapped when its samples
are uint8 or float32 in a channels-first or vector layout and are not standardized; a conversion
(other dtypes, channels-last images, `normalize: standardize`) makes an in-memory copy. Byte
vectors stay bytes and are handed out as the numbers they are (0..255), 8-bit images as [0, 1].
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from aecli.config.schema import Choice, Text
from aecli.data import DATASETS
from aecli.data.assemble import NORMALIZE, SPLIT_HERE, dataset_from_source
from aecli.data.base import Dataset
from aecli.data.source import Source, encode_labels
from aecli.errors import UserError

LAYOUTS = ("auto", "vectors", "nhw", "nhwc", "nchw")
NPZ_KEYS = ("x", "y", "factors")
_LAYOUT_NDIM = {"vectors": 2, "nhw": 3, "nhwc": 4, "nchw": 4}
_CHANNEL_COUNTS = (1, 3, 4)


def read_array_file(path: str | os.PathLike, layout: str = "auto") -> Source:
    """Read a `.npy` or `.npz` file.

    layout: "vectors" (N, D), "nhw" (N, H, W), "nhwc" (N, H, W, C), "nchw" (N, C, H, W), or
    "auto": 2-D is vectors, 3-D is N, H, W, 4-D is channels-last when only the last axis
    has 1, 3 or 4 entries and channels-first when only the second has; anything else asks
    for the layout.
    Returns vectors (N, D) or images (N, C, H, W), uint8 when stored as uint8 and float32
    otherwise (a .npy memory-mapped where no conversion is needed); labels as class indices with their names; factors as float32 (N, F).
    """
    path = Path(path).expanduser()
    if layout not in LAYOUTS:
        raise UserError(f"unknown array layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if not path.is_file():
        raise UserError(f"{path} not found; set dataset.path to an existing .npy or .npz file")
    if path.suffix.lower() not in (".npy", ".npz"):
        raise UserError(f"{path} is not a .npy or .npz file; save the arrays with np.save or np.savez")
    arrays = _load(path)
    x = arrays["x"]
    if x.dtype.kind not in "biuf":
        raise UserError(f"{path}: x holds {x.dtype} values; save the samples as numbers (uint8 or float)")
    chosen = _resolve_layout(x.shape, layout, path)
    if len(x) == 0:
        raise UserError(f"{path}: x holds no samples; save at least one")
    if x.dtype.kind == "f":
        _check_finite(x, path)
    x = _to_nchw(x, chosen)
    kind = "vector" if chosen == "vectors" else "image"
    # 8-bit samples stay uint8 (4x less memory); everything else becomes float32 (a copy unless it is).
    x = x if x.dtype == np.uint8 else x.astype(np.float32, copy=False)

    labels, class_names = None, ()
    if "y" in arrays:
        labels, class_names = encode_labels(arrays["y"], f"{path} (y)")
    factors, factor_names = None, ()
    if "factors" in arrays:
        factors = arrays["factors"]
        if factors.dtype.kind not in "biuf" or factors.ndim not in (1, 2):
            raise UserError(f"{path}: factors must be numbers of shape (N,) or (N, F), got {factors.dtype} {factors.shape}")
        factors = factors.reshape(len(factors), -1).astype(np.float32)
        factor_names = tuple(f"factor_{i}" for i in range(factors.shape[1]))
    contiguous = np.ascontiguousarray(x)
    return Source(
        x=contiguous,
        labels=labels,
        class_names=class_names,
        factors=factors,
        factor_names=factor_names,
        kind=kind,
        origin=str(path),
        mapped=isinstance(arrays["x"], np.memmap) and np.shares_memory(contiguous, arrays["x"]),
    )


FINITE_CHUNK = 65_536  # rows checked at a time, so a memory-mapped file is never read whole into memory


def _check_finite(x: np.ndarray, path: Path) -> None:
    for start in range(0, len(x), FINITE_CHUNK):
        rows = x[start : start + FINITE_CHUNK].reshape(-1, int(np.prod(x.shape[1:])))
        bad = ~np.isfinite(rows).all(axis=1)
        if bad.any():
            sample = start + int(np.flatnonzero(bad)[0])
            raise UserError(f"{path}: x holds NaN or infinite values (first in sample {sample}); replace or drop them")


def _load(path: Path) -> dict[str, np.ndarray]:
    try:
        # A .npy is mapped copy-on-write: read as used, never written back, writable for torch.
        loaded = np.load(path, allow_pickle=False, mmap_mode="c" if path.suffix.lower() == ".npy" else None)
        if isinstance(loaded, np.ndarray):
            return {"x": loaded}
        with loaded:
            keys = list(loaded.keys())
            if "x" not in keys:
                raise UserError(
                    f"{path} has no array named x (it holds {', '.join(keys) or 'nothing'}); "
                    f"save the samples under x: np.savez(path, x=samples, y=labels)"
                )
            unknown = [key for key in keys if key not in NPZ_KEYS]
            if unknown:
                raise UserError(
                    f"{path} holds arrays named {', '.join(unknown)}, which aecli does not read; "
                    f"keep only {', '.join(NPZ_KEYS)} (samples, labels, factors)"
                )
            return {key: loaded[key] for key in keys}
    except UserError:
        raise
    except ValueError as error:
        if "Object arrays" in str(error):
            raise UserError(
                f"{path} holds Python objects, which aecli does not unpickle; save numbers, "
                f"and text labels as a string array (np.array(labels, dtype=str))"
            )
        if "pickled" in str(error):
            raise UserError(f"{path} is not a NumPy .npy/.npz file; save the arrays with np.save or np.savez")
        raise UserError(f"cannot read {path} ({error}); save it again with np.save or np.savez")
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise UserError(f"cannot read {path} ({error}); save it again with np.save or np.savez")


def _resolve_layout(shape: tuple[int, ...], layout: str, path: Path) -> str:
    if layout != "auto":
        if len(shape) != _LAYOUT_NDIM[layout]:
            raise UserError(
                f"{path}: x has shape {shape}, but layout {layout} needs {_LAYOUT_NDIM[layout]} dimensions; "
                f"set dataset.layout to match ({', '.join(LAYOUTS[1:])})"
            )
        return layout
    if len(shape) == 2:
        return "vectors"
    if len(shape) == 3:
        return "nhw"
    if len(shape) == 4:
        last, second = shape[3] in _CHANNEL_COUNTS, shape[1] in _CHANNEL_COUNTS
        if last and not second:
            return "nhwc"
        if second and not last:
            return "nchw"
        raise UserError(
            f"{path}: x has shape {shape}, which could be channels-first or channels-last; "
            f"set dataset.layout=nchw or dataset.layout=nhwc"
        )
    raise UserError(
        f"{path}: x has shape {shape}; save vectors (N, D) or images (N, H, W), (N, H, W, C) or (N, C, H, W)"
    )


def _to_nchw(x: np.ndarray, layout: str) -> np.ndarray:
    if layout == "nhw":
        return x[:, None]
    if layout == "nhwc":
        return x.transpose(0, 3, 1, 2)
    return x


@DATASETS.register("array", settings={
    "path": Text(requirement="be the path of a .npy or .npz file (dataset.path=FILE)"),
    "layout": Choice(*LAYOUTS),
    **NORMALIZE,
    **SPLIT_HERE,
})
def load_array_dataset(cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
    """uint8 images stay uint8 (scaled to [0, 1] per batch); vectors may be standardized."""
    return dataset_from_source(read_array_file(cfg.path, str(cfg.layout)), cfg, str(cfg.normalize))
