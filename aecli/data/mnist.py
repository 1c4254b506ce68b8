"""MNIST and variance-MNIST, read straight from the IDX files.

Files live in torchvision's layout, `<root>/MNIST/raw/<name>[.gz]`, so existing
downloads are reused. Nothing is ever written beside them when they are present
(the folder may be read-only); a download (opt-in) writes the missing `.gz`
files there after an md5 check.
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
import torch
from omegaconf import DictConfig
from torch import Tensor

from aecli.data.base import Dataset, Split
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


def load_mnist_arrays(root: str | None, download: bool) -> dict[str, np.ndarray]:
    arrays = {key: read_idx(path) for key, path in locate_mnist(root, download).items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise UserError(
                f"MNIST {split} files disagree: images {images.shape}, labels {labels.shape}; "
                f"replace them with the original files"
            )
    return arrays


def load_mnist(cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
    """MNIST as float images in [0, 1], shape (N, 1, 28, 28), with digit labels."""
    arrays = load_mnist_arrays(data_cfg.root, bool(data_cfg.download))
    train_pixels, train_y = arrays["train_images"], torch.from_numpy(arrays["train_labels"].astype(np.int64))
    test_pixels, test_y = arrays["test_images"], torch.from_numpy(arrays["test_labels"].astype(np.int64))

    val_size = int(cfg.val_size)
    if not 0 < val_size < len(train_pixels):
        raise UserError(f"dataset.val_size must lie in 1..{len(train_pixels) - 1}, got {val_size}")
    order = torch.randperm(len(train_pixels), generator=torch.Generator().manual_seed(int(cfg.seed)))
    val_idx, train_idx = order[:val_size], order[val_size:]
    train_idx = train_idx[: _size(cfg.train_size, "train_size")]
    test_end = _size(cfg.test_size, "test_size")
    # Only the images used are converted to float (a small train_size then loads in a fraction of the time).
    return Dataset(
        name=cfg.name,
        train=Split(_images(train_pixels[train_idx.numpy()]), train_y[train_idx]),
        val=Split(_images(train_pixels[val_idx.numpy()]), train_y[val_idx]),
        test=Split(_images(test_pixels[:test_end]), test_y[:test_end]),
        kind="image",
    )


class VarianceMNIST(Dataset):
    """Training batches are drawn as x * randn_like(x), fresh noise on every draw."""

    def training_batch(self, x: Tensor) -> Tensor:
        return x * torch.randn_like(x)


def load_variance_mnist(cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
    """MNIST whose pixels are multiplied by N(0, 1) noise; val/test noise fixed by `cfg.seed`."""
    clean = load_mnist(cfg, data_cfg)
    generator = torch.Generator().manual_seed(int(cfg.seed) + 1)

    def noisy(split: Split) -> Split:
        return Split(split.x * torch.randn(split.x.shape, generator=generator), split.labels)

    return VarianceMNIST(
        name=cfg.name,
        train=clean.train,
        val=noisy(clean.val),
        test=noisy(clean.test),
        kind="image",
    )


def _images(array: np.ndarray) -> Tensor:
    return torch.from_numpy(array.astype(np.float32) / 255.0).unsqueeze(1)


def _size(value: int | None, key: str) -> int | None:
    if value is None:
        return None
    if int(value) < 1:
        raise UserError(f"dataset.{key} must be a positive number of images or null, got {value}")
    return int(value)
