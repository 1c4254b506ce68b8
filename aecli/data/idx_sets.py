"""MNIST look-alikes in IDX files: MNIST, Fashion-MNIST and Kuzushiji-MNIST, the reader and
the dataset options `mnist`, `fashion_mnist` and `kmnist` (uint8 images, scaled to [0, 1]
per batch; the given test split kept).

All three ship the same four files (train/test images and labels) and sit in
torchvision's layout, `<root>/<folder>/raw/<name>[.gz]`, so existing downloads are
reused. Reading checks the format (magic number, sizes, counts) and not the md5 sums,
so subsets and re-compressed copies work; only a download checks md5 sums. Nothing is
written beside the files when they are present (the folder may be read-only).

File names, md5 sums, mirrors and class names are torchvision's
(torchvision/datasets/mnist.py); the md5 sums are those of the `.gz` files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omegaconf import DictConfig

from aecli.data import DATASETS
from aecli.data.assemble import GIVEN_TEST, dataset_from_source
from aecli.data.binarize import BINARIZE
from aecli.data.base import Dataset
from aecli.data.download import fetch
from aecli.data.idx import default_data_root, read_idx
from aecli.data.source import Source
from aecli.errors import UserError

# key -> file name without .gz; the same four names in every set.
FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _md5s(train_images: str, train_labels: str, test_images: str, test_labels: str) -> dict[str, str]:
    return dict(zip(FILE_NAMES, (train_images, train_labels, test_images, test_labels)))


@dataclass(frozen=True)
class IdxSet:
    """One published IDX dataset.

    folder: the folder under the data root, torchvision's class name ("FashionMNIST").
    md5s: key of FILE_NAMES -> md5 of the canonical `.gz` file.
    mirrors: base URLs the `.gz` files are fetched from, in order.
    class_names: the name of each label value 0..9.
    """

    folder: str
    md5s: dict[str, str]
    mirrors: tuple[str, ...]
    class_names: tuple[str, ...]


IDX_SETS: dict[str, IdxSet] = {
    "mnist": IdxSet(
        folder="MNIST",
        md5s=_md5s("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                   "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        class_names=tuple("0123456789"),
    ),
    "fashion_mnist": IdxSet(
        folder="FashionMNIST",
        md5s=_md5s("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                   "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
    "kmnist": IdxSet(
        folder="KMNIST",
        md5s=_md5s("bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344",
                   "5c965bf0a639b31b8f53240b1b52f4d7", "7320c461ea6c1c855c0b718fb2a4b134"),
        mirrors=("https://codh.rois.ac.jp/kmnist/dataset/kmnist/", "http://codh.rois.ac.jp/kmnist/dataset/kmnist/"),
        # Romanized hiragana, in label order (torchvision's KMNIST.classes).
        class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    ),
}


def read_idx_set(
    name: str,
    root: str | os.PathLike | None = None,
    download: bool = False,
    mirrors: Sequence[str] | None = None,
) -> Source:
    """Read one IDX set (a key of IDX_SETS) with its given train/test split.

    root: the folder holding `<folder>/raw/` (None: $AECLI_DATA_DIR or the user cache).
    download: fetch missing files (md5-checked) from `mirrors` (default: the set's own).
    Returns uint8 images (N, 1, H, W) in 0..255 with int64 labels, test split included.
    """
    spec = _spec(name)
    raw_dir = (Path(root) if root is not None else default_data_root()).expanduser() / spec.folder / "raw"
    paths = locate_idx_files(spec, raw_dir, download, mirrors)
    splits = {}
    for split in ("train", "test"):
        images, labels = read_idx(paths[f"{split}_images"]), read_idx(paths[f"{split}_labels"])
        if images.ndim != 3 or images.dtype != np.uint8 or labels.ndim != 1 or len(images) != len(labels):
            raise UserError(
                f"{spec.folder} {split} files in {raw_dir} disagree: images {images.dtype} {images.shape}, "
                f"labels {labels.shape} (expected uint8 (N, H, W) images and N labels); replace them with the original files"
            )
        # The IDX buffers are read-only; a copy lets later code (torch.from_numpy) use them freely.
        splits[split] = images[:, None].copy(), labels.astype(np.int64)
    if splits["train"][0].shape[1:] != splits["test"][0].shape[1:]:
        raise UserError(
            f"{spec.folder} train and test images in {raw_dir} differ in size "
            f"({splits['train'][0].shape[2:]} vs {splits['test'][0].shape[2:]}); replace them with the original files"
        )
    return Source(
        x=splits["train"][0],
        labels=splits["train"][1],
        class_names=spec.class_names,
        test_x=splits["test"][0],
        test_labels=splits["test"][1],
        kind="image",
        origin=str(raw_dir),
    )


def locate_idx_files(
    spec: IdxSet, raw_dir: Path, download: bool, mirrors: Sequence[str] | None = None
) -> dict[str, Path]:
    """Paths of the four files in `raw_dir` (`.gz` or not), downloading missing ones if allowed."""
    found: dict[str, Path] = {}
    for key, name in FILE_NAMES.items():
        path = next((p for p in (raw_dir / f"{name}.gz", raw_dir / name) if p.is_file()), None)
        if path is None:
            if not download:
                raise UserError(
                    f"{spec.folder} file {name}(.gz) not found in {raw_dir}; put the four {spec.folder} IDX files there, "
                    f"set data.root to the folder that holds {spec.folder}/raw/, or set data.download=true"
                )
            path = fetch(f"{name}.gz", spec.md5s[key], raw_dir, spec.mirrors if mirrors is None else mirrors, spec.folder)
        found[key] = path
    return found


def _spec(name: str) -> IdxSet:
    if name not in IDX_SETS:
        raise UserError(f"unknown IDX dataset {name!r}; choose one of {', '.join(IDX_SETS)}")
    return IDX_SETS[name]


def load_idx_dataset(name: str, cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
    """The IDX set `name` as a dataset: `cfg.val_size` images of its training files held out
    (seeded by `cfg.seed`), its own test files as the test split."""
    source = read_idx_set(name, data_cfg.root, bool(data_cfg.download))
    return dataset_from_source(source, cfg)


def _register(name: str) -> None:
    @DATASETS.register(name, settings={**GIVEN_TEST, **BINARIZE})
    def load(cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
        return load_idx_dataset(name, cfg, data_cfg)


for _name in IDX_SETS:
    _register(_name)
