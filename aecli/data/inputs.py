"""Any file or folder a dataset reader accepts, chosen by what the path is: new data for a
trained model (`aecli encode input=PATH`).

- a folder: PNG/JPEG images (aecli.data.image_folder), class subfolders or loose files;
- `.npy` / `.npz`: arrays (aecli.data.arrays);
- `.csv` (or `.txt`/`.tsv` with `delimiter`): a table (aecli.data.table);
- `*-ubyte` / `*-ubyte.gz` / `.idx`: one IDX image file (aecli.data.idx).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aecli.data.arrays import read_array_file
from aecli.data.idx import read_idx
from aecli.data.image_folder import read_image_folder
from aecli.data.source import Source
from aecli.data.table import read_table
from aecli.errors import UserError

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")


def read_input(
    path: str | os.PathLike,
    layout: str = "auto",
    image_size: int | Sequence[int] | None = None,
    channels: int | None = None,
    label_column: str | None = None,
    delimiter: str = ",",
) -> Source:
    """Read `path` with the reader its kind calls for (see the module docstring)."""
    path = Path(path).expanduser()
    if path.is_dir():
        return read_image_folder(path, image_size, channels)
    if not path.is_file():
        raise UserError(f"input {path} not found; pass input=PATH, a folder of images or a .npy, .npz, .csv or IDX file")
    name = path.name.lower()
    if name.endswith((".npy", ".npz")):
        return read_array_file(path, layout)
    if name.endswith(TABLE_SUFFIXES):
        return read_table(path, label_column, "\t" if name.endswith(".tsv") else delimiter)
    if name.endswith(("-ubyte", "-ubyte.gz", ".idx", ".idx.gz")):
        images = read_idx(path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise UserError(f"{path} holds {images.dtype} of shape {images.shape}, not uint8 images (N, H, W); pass an images file")
        return Source(x=images[:, None].copy(), kind="image", origin=str(path))
    raise UserError(
        f"input {path}: unknown kind of file; pass a folder of PNG/JPEG images, a .npy/.npz, a .csv, or an IDX images file"
    )
