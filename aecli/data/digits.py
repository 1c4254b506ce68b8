"""scikit-learn's bundled 8x8 handwritten digits: real data that needs no download.

1797 images of the digits 0-9 (the UCI optical recognition test set), each pixel a count
0..16 of set cells in a 4x4 block of the original 32x32 bitmap. The dataset option `digits`
splits them (seeded) into train/val/test.
"""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig

from aecli.data import DATASETS
from aecli.data.assemble import SPLIT_HERE, dataset_from_source
from aecli.data.base import Dataset
from aecli.data.source import Source
from aecli.errors import UserError

DTYPES = ("float32", "uint8")
_MAX_COUNT = 16


def read_digits(dtype: str = "float32") -> Source:
    """The digits as images (1797, 1, 8, 8) with int64 labels and class names "0".."9".

    dtype: "float32" gives count / 16, exactly, in [0, 1]; "uint8" gives count * 255 / 16
    rounded to 0..255, the scale of other 8-bit images.
    """
    if dtype not in DTYPES:
        raise UserError(f"digits dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    from sklearn.datasets import load_digits  # imported here: scikit-learn takes a while to import

    bunch = load_digits()
    counts = np.asarray(bunch.images, dtype=np.float64)[:, None]  # (1797, 1, 8, 8), 0..16
    if dtype == "float32":
        x = (counts / _MAX_COUNT).astype(np.float32)
    else:
        x = np.rint(counts * 255 / _MAX_COUNT).astype(np.uint8)
    return Source(
        x=x,
        labels=np.asarray(bunch.target, dtype=np.int64),
        class_names=tuple(str(name) for name in bunch.target_names),
        kind="image",
        origin="sklearn.datasets.load_digits",
    )


@DATASETS.register("digits", settings=SPLIT_HERE)
def load_digits_dataset(cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
    """Images (1, 8, 8) in [0, 1] (count / 16), class names "0".."9"."""
    return dataset_from_source(read_digits("float32"), cfg)
