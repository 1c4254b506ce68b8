"""The IDX file format (MNIST's and its look-alikes'), gzipped or not, and the default data root.

Which files make a dataset, where they live and how they are downloaded: aecli.data.idx_sets.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from aecli.errors import UserError

# IDX type byte -> numpy big-endian dtype
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def default_data_root() -> Path:
    """$AECLI_DATA_DIR, else the per-user cache folder ($XDG_CACHE_HOME or ~/.cache)/aecli."""
    if os.environ.get("AECLI_DATA_DIR"):
        return Path(os.environ["AECLI_DATA_DIR"])
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "aecli"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed when the name ends in .gz) into an array."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                raw = handle.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise UserError(f"cannot read {path}: {error}; replace the file (or delete it and set data.download=true)")
    return parse_idx(raw, str(path))


def parse_idx(raw: bytes, name: str = "IDX data") -> np.ndarray:
    def bad(reason: str) -> UserError:
        return UserError(f"{name} is not a valid IDX file ({reason}); replace it with the original file")

    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise bad("wrong magic number")
    dtype = _IDX_DTYPES.get(raw[2])
    ndim = raw[3]
    if dtype is None or ndim == 0:
        raise bad(f"unknown type byte 0x{raw[2]:02x} or no dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise bad("truncated header")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise bad(f"{len(raw)} bytes where the header promises {expected}; truncated or corrupted")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
