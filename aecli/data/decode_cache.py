"""An image folder decoded once: the first run decodes every image in parallel worker processes
into a uint8 array in the data cache folder ($AECLI_CACHE_DIR, else $XDG_CACHE_HOME/aecli or
~/.cache/aecli, under image_folders/); later runs memory-map it instead of decoding again.

The cache is keyed by what decides its content: the folder, every image file's path below it, size
and modification time, `image_size` and `channels`. Adding, removing, replacing or touching an
image, or asking for another size, makes a new entry; an entry is written in a temporary folder
and renamed into place, so a run stopped while decoding leaves none half-written. A cache that
cannot be written (a read-only home) is said in one log line and the images are decoded in
memory, as before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

log = logging.getLogger("aecli")

VERSION = 1  # what an entry holds and how it was decoded; a change makes new entries
CHUNK = 256  # images per task sent to a worker process


def cache_root() -> Path:
    """The per-user data cache folder: $AECLI_CACHE_DIR, else $XDG_CACHE_HOME/aecli or ~/.cache/aecli."""
    if os.environ.get("AECLI_CACHE_DIR"):
        return Path(os.environ["AECLI_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aecli"


def entry_key(root: Path, files: Sequence[Path], size: tuple[int, int] | None, channels: int | None) -> str:
    """The cache key of a folder's decoded images (see the module docstring)."""
    digest = hashlib.sha256(f"{VERSION}|{root.resolve()}|{size}|{channels}".encode())
    prefix = len(str(root)) + 1
    for file in map(str, files):
        stat = os.stat(file)
        digest.update(f"|{file[prefix:]}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


def cached_images(
    root: Path, files: Sequence[Path], size: tuple[int, int] | None, channels: int | None,
    decode: Callable[[Path, tuple[int, int] | None], np.ndarray], finish: Callable[[np.ndarray, int | None], np.ndarray],
) -> tuple[np.ndarray, bool]:
    """The folder's images as uint8 (N, C, H, W): memory-mapped from the cache (True), or decoded
    now, in parallel, and cached for the next run. `decode(file, size)` gives one RGB (H, W, 3)
    image; `finish(rgb, channels)` turns the stacked (N, H, W, 3) images into (N, C, H, W)."""
    entry = cache_root() / "image_folders" / entry_key(root, files, size, channels)
    if (entry / "x.npy").is_file():
        return np.load(entry / "x.npy", mmap_mode="c"), True
    started = time.perf_counter()
    x = finish(decode_all(files, size, decode), channels)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".writing-", dir=entry.parent))
        np.save(staging / "x.npy", x)
        (staging / "origin.json").write_text(json.dumps({"folder": str(root.resolve()), "images": len(files),
                                                         "image_size": size, "channels": channels}))
        try:
            staging.rename(entry)
        except OSError:  # another run cached the same folder meanwhile: theirs is as good
            shutil.rmtree(staging, ignore_errors=True)
        log.info("decoded %d images of %s in %.1fs; cached in %s, read from there next time",
                 len(files), root, time.perf_counter() - started, entry)
    except OSError as error:
        log.info("decoded %d images of %s in %.1fs; could not cache them (%s), so the next run decodes them again",
                 len(files), root, time.perf_counter() - started, error)
    return x, False


def decode_all(files: Sequence[Path], size: tuple[int, int] | None,
               decode: Callable[[Path, tuple[int, int] | None], np.ndarray]) -> list[np.ndarray]:
    """Every file decoded, in order, by worker processes (one per CPU) for a folder of more than a
    few chunks; in this process otherwise."""
    chunks = [list(files[start : start + CHUNK]) for start in range(0, len(files), CHUNK)]
    workers = min(len(chunks), os.cpu_count() or 1)
    if workers < 2:
        return [decode(file, size) for file in files]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        done = pool.map(_decode_chunk, chunks, [size] * len(chunks), [decode] * len(chunks))
        return [image for chunk in done for image in chunk]


def _decode_chunk(files: list[Path], size: tuple[int, int] | None,
                  decode: Callable[[Path, tuple[int, int] | None], np.ndarray]) -> list[np.ndarray]:
    return [decode(file, size) for file in files]


__all__ = ["cache_root", "cached_images", "entry_key", "decode_all"]
