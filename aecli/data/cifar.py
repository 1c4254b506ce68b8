"""CIFAR-10 from the official binary version or the python version, never running pickle code.

Folders under the data root, as the official archives unpack:
- `cifar-10-batches-bin/`: data_batch_1.bin .. data_batch_5.bin, test_batch.bin, each a
  run of 3073-byte records (1 label byte, then 1024 red, 1024 green, 1024 blue pixel bytes,
  rows top to bottom), and batches.meta.txt with one class name per line.
- `cifar-10-batches-py/`: data_batch_1 .. data_batch_5, test_batch, batches.meta, Python 2
  pickles of dicts ("data": uint8 (N, 3072) in the same pixel order, "labels": list of ints;
  "label_names" in the meta file). They are read by an unpickler that can build only those
  plain containers and numpy arrays, so a tampered file cannot run code.
The binary version is preferred when both are present. A download (opt-in) fetches the
binary archive, checks its md5, and extracts only its regular files, none outside the folder.
Archive names and md5 sums are those on https://www.cs.toronto.edu/~kriz/cifar.html.
The dataset option `cifar10` keeps the images uint8 (150 MB; scaled to [0, 1] per batch).
"""

from __future__ import annotations

import os
import pickle
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np
from omegaconf import DictConfig

from aecli.data import DATASETS
from aecli.data.assemble import GIVEN_TEST, dataset_from_source
from aecli.data.base import Dataset
from aecli.data.download import fetch, md5_of
from aecli.data.idx import default_data_root
from aecli.data.source import Source
from aecli.errors import UserError

BINARY_FOLDER = "cifar-10-batches-bin"
PYTHON_FOLDER = "cifar-10-batches-py"
BINARY_ARCHIVE = ("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530")
MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
IMAGE_SHAPE = (3, 32, 32)
_PIXELS = 3 * 32 * 32
_RECORD_BYTES = 1 + _PIXELS


def read_cifar10(
    root: str | os.PathLike | None = None,
    download: bool = False,
    mirrors: Sequence[str] | None = None,
) -> Source:
    """CIFAR-10 with its given split: uint8 images (N, 3, 32, 32) in 0..255, int64 labels.

    root: the folder holding cifar-10-batches-bin/ or cifar-10-batches-py/
    (None: $AECLI_DATA_DIR or the user cache). download: fetch and unpack the binary
    archive (md5-checked) from `mirrors` (default MIRRORS) when neither folder is complete.
    """
    root = (Path(root) if root is not None else default_data_root()).expanduser()
    binary, python = root / BINARY_FOLDER, root / PYTHON_FOLDER
    if _complete(binary, _binary_names()):
        return read_binary_version(binary)
    if _complete(python, _python_names()):
        return read_python_version(python)
    if not download:
        raise UserError(
            f"CIFAR-10 not found in {root}: neither {BINARY_FOLDER}/ nor {PYTHON_FOLDER}/ holds all its files; "
            f"unpack cifar-10-binary.tar.gz there, set data.root to the folder that holds it, or set data.download=true"
        )
    download_binary_version(root, MIRRORS if mirrors is None else mirrors)
    return read_binary_version(binary)


@DATASETS.register("cifar10", settings=GIVEN_TEST)
def load_cifar10(cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
    """`cfg.val_size` training images held out (seeded), the official test batch as the test split."""
    return dataset_from_source(read_cifar10(data_cfg.root, bool(data_cfg.download)), cfg)


def read_binary_version(folder: Path) -> Source:
    """Read `cifar-10-batches-bin/`: five training record files, the test file and the class names."""
    class_names = _class_names_from_text(folder / "batches.meta.txt")
    train = [read_records(folder / f"{name}.bin") for name in TRAIN_BATCHES]
    test_x, test_labels = read_records(folder / f"{TEST_BATCH}.bin")
    return Source(
        x=np.concatenate([x for x, _ in train]),
        labels=np.concatenate([labels for _, labels in train]),
        class_names=class_names,
        test_x=test_x,
        test_labels=test_labels,
        kind="image",
        origin=str(folder),
    )


def read_records(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch file: uint8 images (N, 3, 32, 32) and int64 labels (N,)."""
    raw = _read_bytes(path)
    if not raw or len(raw) % _RECORD_BYTES:
        raise UserError(
            f"{path} is not a CIFAR-10 record file ({len(raw)} bytes, not a positive multiple of "
            f"{_RECORD_BYTES}); it is truncated or corrupted, replace it with the original file"
        )
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _RECORD_BYTES)
    return records[:, 1:].reshape(-1, *IMAGE_SHAPE).copy(), records[:, 0].astype(np.int64)


def read_python_version(folder: Path) -> Source:
    """Read `cifar-10-batches-py/` through the restricted unpickler."""
    meta = load_pickle(folder / "batches.meta")
    names = meta.get("label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise UserError(f"{folder / 'batches.meta'} holds no list of label_names; replace it with the original file")
    train = [_python_batch(folder / name) for name in TRAIN_BATCHES]
    test_x, test_labels = _python_batch(folder / TEST_BATCH)
    return Source(
        x=np.concatenate([x for x, _ in train]),
        labels=np.concatenate([labels for _, labels in train]),
        class_names=tuple(names),
        test_x=test_x,
        test_labels=test_labels,
        kind="image",
        origin=str(folder),
    )


class _BatchUnpickler(pickle.Unpickler):
    """Builds dicts, lists, strings, numbers and uint8 numpy arrays; refuses every other global.

    A pickle names the callables it runs as globals; the CIFAR batches need only numpy's
    array reconstructor, ndarray and dtype, so nothing else can be called while loading.
    """

    # numpy >= 2 names its private core package numpy._core; the 2009 files say numpy.core.
    _RECONSTRUCT = np.empty(0).__reduce__()[0]
    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def __init__(self, handle: BinaryIO, path: Path):
        super().__init__(handle, encoding="latin1")  # Python 2 byte strings: the pixel buffers
        self.path = path

    def find_class(self, module: str, name: str) -> object:
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise UserError(
                f"{self.path} asks to run {module}.{name}, which no CIFAR-10 batch does; refused. "
                f"Replace it with the original file (or use the binary version, {BINARY_FOLDER}/)"
            ) from None


def load_pickle(path: Path) -> object:
    """Load one CIFAR python-version file without running any code it names."""
    try:
        with open(path, "rb") as handle:
            return _BatchUnpickler(handle, path).load()
    except UserError:
        raise
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise UserError(f"cannot read {path} ({type(error).__name__}: {error}); replace it with the original file")


def _python_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = load_pickle(path)
    data = batch.get("data") if isinstance(batch, dict) else None
    labels = batch.get("labels") if isinstance(batch, dict) else None
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != _PIXELS
        or not isinstance(labels, list)
        or len(labels) != len(data)
        or not all(isinstance(label, int) for label in labels)
    ):
        raise UserError(
            f"{path} is not a CIFAR-10 batch (expected 'data' uint8 (N, {_PIXELS}) and N integer 'labels'); "
            f"replace it with the original file"
        )
    return data.reshape(-1, *IMAGE_SHAPE).copy(), np.array(labels, dtype=np.int64)


def download_binary_version(root: Path, mirrors: Sequence[str]) -> Path:
    """Fetch the binary archive (md5-checked), unpack `cifar-10-batches-bin/` into `root`, drop the archive."""
    filename, md5 = BINARY_ARCHIVE
    archive = root / filename
    if not (archive.is_file() and md5_of(archive) == md5):
        archive = fetch(filename, md5, root, mirrors, "CIFAR-10")
    target = root / BINARY_FOLDER
    # Unpack into a scratch folder and move the finished folder into place, so a failed
    # extraction never leaves a half-filled cifar-10-batches-bin/ that looks complete.
    with tempfile.TemporaryDirectory(dir=root, prefix=".cifar-10-unpack-") as scratch:
        unpacked = Path(scratch) / BINARY_FOLDER
        safe_extract(archive, Path(scratch))
        if not _complete(unpacked, _binary_names()):
            raise UserError(f"{archive} does not hold the CIFAR-10 binary files; delete it and download again")
        if target.exists():
            raise UserError(f"{target} exists but is incomplete; delete it and run again to unpack the download")
        os.replace(unpacked, target)
    archive.unlink()
    return target


def safe_extract(archive: Path, destination: Path) -> None:
    """Extract a .tar.gz's regular files and folders into `destination`.

    Refuses (UserError) an archive holding absolute paths, `..`, links or devices, before
    writing anything: such members could write outside `destination`.
    """
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                parts = PurePosixPath(member.name).parts
                if member.name.startswith(("/", "\\")) or ".." in parts or not (member.isfile() or member.isdir()):
                    raise UserError(
                        f"{archive} holds {member.name!r}, which is a link or points outside its folder; "
                        f"refused, delete the archive and download it again"
                    )
            for member in members:
                path = destination.joinpath(*PurePosixPath(member.name).parts)
                if member.isdir():
                    path.mkdir(parents=True, exist_ok=True)
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                with source, open(path, "wb") as handle:
                    while chunk := source.read(1 << 20):
                        handle.write(chunk)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise UserError(f"cannot unpack {archive} ({error}); delete it and download it again")


def _class_names_from_text(path: Path) -> tuple[str, ...]:
    try:
        names = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read {path} ({error}); replace it with the original batches.meta.txt")
    if not names:
        raise UserError(f"{path} names no classes; replace it with the original batches.meta.txt")
    return names


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise UserError(f"cannot read {path} ({error}); replace it with the original file")


def _binary_names() -> list[str]:
    return [f"{name}.bin" for name in (*TRAIN_BATCHES, TEST_BATCH)] + ["batches.meta.txt"]


def _python_names() -> list[str]:
    return [*TRAIN_BATCHES, TEST_BATCH, "batches.meta"]


def _complete(folder: Path, names: list[str]) -> bool:
    return all((folder / name).is_file() for name in names)
