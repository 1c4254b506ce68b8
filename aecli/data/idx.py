"""IDX files (MNIST's format) in torchvision's layout, `<root>/<NAME>/raw/<file>[.gz]`.

Existing downloads are reused. Nothing is ever written beside the files when they are
present (the folder may be read-only); a download (opt-in) writes the missing `.gz` files
there after an md5 check.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from aecli.errors import UserError

log = logging.getLogger(__name__)

# key -> (file name without .gz, md5 of the canonical .gz file)
RESOURCES = {
    "train_images": ("train-images-idx3-ubyte", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train_labels": ("train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432"),
    "test_images": ("t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3"),
    "test_labels": ("t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c"),
}
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]

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


def locate_mnist(root: str | os.PathLike | None, download: bool) -> dict[str, Path]:
    """Paths of the four MNIST files under `<root>/MNIST/raw`, downloading missing ones if allowed."""
    raw_dir = (Path(root) if root is not None else default_data_root()).expanduser() / "MNIST" / "raw"
    found: dict[str, Path] = {}
    for key, (name, md5) in RESOURCES.items():
        candidates = [raw_dir / f"{name}.gz", raw_dir / name]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            if not download:
                raise UserError(
                    f"MNIST file {name}(.gz) not found in {raw_dir}; put the four MNIST IDX files there, "
                    f"set data.root to the folder that holds MNIST/raw/, or set data.download=true"
                )
            path = download_file(f"{name}.gz", md5, raw_dir)
        found[key] = path
    return found


def download_file(filename: str, md5: str, folder: Path) -> Path:
    """Fetch `filename` from the first mirror that serves it with the right md5."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create {folder} for the MNIST download ({error}); set data.root to a writable folder")
    errors = []
    for mirror in MIRRORS:
        url = mirror + filename
        log.info("downloading %s", url)
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                payload = response.read()
        except (urllib.error.URLError, OSError, ValueError) as error:
            errors.append(f"{url}: {error}")
            continue
        digest = hashlib.md5(payload).hexdigest()
        if digest != md5:
            errors.append(f"{url}: md5 {digest} does not match {md5}")
            continue
        target = folder / filename
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{filename}.", delete=False) as handle:
            handle.write(payload)
        os.replace(handle.name, target)
        return target
    raise UserError(
        f"could not download {filename} ({'; '.join(errors)}); "
        f"place the MNIST IDX files in {folder} by hand and run again"
    )


