"""A folder of PNG/JPEG images, with class subfolders as labels or without labels.

Two layouts:
- `path/<class>/**/*.png|jpg|jpeg`: one subfolder per class (its name is the class name,
  classes in sorted order), images anywhere below it;
- `path/*.png|jpg|jpeg`: unlabelled images.
Hidden files and files with other suffixes are skipped. Images are decoded with Pillow
(JPEG orientation tags applied, alpha dropped) and kept as uint8. The dataset option
`image_folder` reads `dataset.path` and splits it (seeded) into train/val/test. The first run
decodes the folder in parallel and caches it; later runs memory-map the cache
(aecli.data.decode_cache).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, ListConfig
from PIL import Image, ImageOps, UnidentifiedImageError

from aecli.config.schema import Choice, ImageSize, Text
from aecli.data import DATASETS
from aecli.data.assemble import SPLIT_HERE, dataset_from_source
from aecli.data.base import Dataset
from aecli.data.decode_cache import cached_images
from aecli.data.source import Source
from aecli.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CHANNEL_CHOICES = (None, 1, 3)
log = logging.getLogger("aecli")


def read_image_folder(
    path: str | os.PathLike,
    image_size: int | Sequence[int] | None = None,
    channels: int | None = None,
) -> Source:
    """Read every image under `path` into uint8 (N, C, H, W) in 0..255.

    image_size: None keeps the images' own size (they must all agree); an int resizes to a
    square of that many pixels; [H, W] resizes to H rows by W columns.
    channels: 1 (grayscale), 3 (RGB), or None: 1 when every image is gray (a gray mode, or
    RGB with equal channels), else 3.
    Labels are class-subfolder indices in sorted name order, or None without subfolders.
    """
    root = Path(path).expanduser()
    size = _target_size(image_size)
    if channels not in CHANNEL_CHOICES:
        raise UserError(f"dataset.channels must be 1, 3 or null (keep), got {channels!r}")
    if not root.is_dir():
        raise UserError(_not_a_folder(root))
    files, labels, class_names = _list_images(root)

    def finish(images: list[np.ndarray], wanted: int | None) -> np.ndarray:
        if size is None:
            first = images[0].shape[:2]
            for file, image in zip(files, images):
                if image.shape[:2] != first:
                    raise UserError(
                        f"{file} is {image.shape[0]}x{image.shape[1]} pixels but {files[0]} is {first[0]}x{first[1]}; "
                        f"set dataset.image_size to resize them all (e.g. dataset.image_size={max(first)})"
                    )
        x = np.stack(images)  # (N, H, W, 3)
        gray = bool((x[..., :1] == x[..., 1:]).all())
        if wanted == 1 or (wanted is None and gray):
            x = x[..., :1] if gray else _luminance(x)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    x, mapped = cached_images(root, files, size, channels, _read_rgb, finish)
    return Source(
        x=x,
        labels=None if labels is None else np.array(labels, dtype=np.int64),
        class_names=class_names,
        kind="image",
        origin=str(root),
        mapped=mapped,
        sample_names=tuple(file.relative_to(root).as_posix() for file in files),
    )


def _not_a_folder(root: Path) -> str:
    """Why `root` is no image folder: a file (the reader it was meant for, or its folder), or nothing there."""
    if not root.is_file():
        return f"image folder {root} not found; set dataset.path to a folder of PNG/JPEG images"
    suffix = root.suffix.lower()
    other = {".npy": "array", ".npz": "array", ".csv": "csv", ".tsv": "csv", ".txt": "csv"}.get(suffix)
    fix = (f"dataset={other} reads a {suffix} file" if other else
           f"set dataset.path to the folder that holds it ({root.parent})" if _is_image(root) else
           "set dataset.path to a folder of PNG/JPEG images")
    return (f"dataset.path={root} is a file, but dataset=image_folder reads a folder of PNG/JPEG images "
            f"(or of class subfolders of them); {fix}")


def unlabelled_note(path: Path) -> str:
    """The line that says a folder of loose images trains unlabelled, naming the parent folder when
    that one holds folders of images and no loose ones (the path was likely one class of them)."""
    parent = Path(path).expanduser().resolve().parent
    entries = [p for p in parent.iterdir() if not p.name.startswith(".")]
    classes = [p for p in entries if p.is_dir() and any(_is_image(f) for f in p.iterdir() if not f.name.startswith("."))]
    one_class = len(classes) > 1 and not any(p.is_file() and _is_image(p) for p in entries)
    hint = (f"it looks like one class of {parent}: dataset.path={parent} labels by subfolder" if one_class
            else "one subfolder per class gives labels")
    return f"no class subfolders in {path}: unlabelled; {hint}"


def _list_images(root: Path) -> tuple[list[Path], list[int] | None, tuple[str, ...]]:
    """Image files in a stable order, with class indices when `root` has class subfolders."""
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    loose = [p for p in entries if p.is_file() and _is_image(p)]
    class_dirs = [p for p in entries if p.is_dir()]
    if loose and class_dirs:
        raise UserError(
            f"{root} holds both images ({loose[0].name}) and subfolders ({class_dirs[0].name}); "
            f"move the loose images into a class subfolder, or the subfolders out"
        )
    if loose:
        return loose, None, ()
    files: list[Path] = []
    labels: list[int] = []
    for index, folder in enumerate(class_dirs):
        found = _images_below(folder)
        if not found:
            raise UserError(f"class folder {folder} holds no PNG/JPEG images; add some or remove the folder")
        files += found
        labels += [index] * len(found)
    if not files:
        raise UserError(f"image folder {root} holds no PNG/JPEG images; put images (or class subfolders of images) there")
    return files, labels, tuple(p.name for p in class_dirs)


def _images_below(folder: Path) -> list[Path]:
    """The image files anywhere below `folder` (following links), hidden files and folders left
    out, in sorted order: one directory scan, no stat per file."""
    found = []
    for top, dirs, names in os.walk(folder, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [os.path.join(top, name) for name in names if not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES)]
    return sorted(Path(path) for path in found)


def _read_rgb(file: Path, size: tuple[int, int] | None) -> np.ndarray:
    """One image as uint8 (H, W, 3); gray images repeat their one channel."""
    try:
        with Image.open(file) as opened:
            image = ImageOps.exif_transpose(opened)
            if image.mode.startswith("I;16"):
                # 16-bit gray: keep the high byte (convert("L") would clip instead of scale).
                image = Image.fromarray((np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8))
            image = image.convert("RGB")
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as error:
        raise UserError(f"cannot read image {file} ({error}); replace or remove the file")


def _luminance(x: np.ndarray) -> np.ndarray:
    # ITU-R 601-2 weights, the ones Pillow's convert("L") uses.
    gray = x.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)[..., None]


def _target_size(image_size: int | Sequence[int] | None) -> tuple[int, int] | None:
    """(H, W) from an int or an [H, W] pair."""
    if image_size is None:
        return None
    pair = [image_size, image_size] if isinstance(image_size, (int, np.integer)) else list(image_size)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in pair):
        raise UserError(f"dataset.image_size must be a positive int or [height, width], got {image_size!r}")
    return int(pair[0]), int(pair[1])


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


@DATASETS.register("image_folder", settings={
    "path": Text(requirement="be a folder of PNG/JPEG images (dataset.path=DIR)"),
    "image_size": ImageSize(nullable=True),
    "channels": Choice(1, 3, nullable=True, message="{key} must be 1, 3 or null (keep), got {value}"),
    **SPLIT_HERE,
})
def load_image_folder_dataset(cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
    """uint8 images (scaled to [0, 1] per batch); the subfolder names are the class names."""
    size = list(cfg.image_size) if isinstance(cfg.image_size, ListConfig) else cfg.image_size
    source = read_image_folder(cfg.path, size, cfg.channels)
    if source.labels is None:
        log.info(unlabelled_note(Path(str(cfg.path))))
    return dataset_from_source(source, cfg)
