"""Opt-in downloads with an md5 check, shared by the readers of published datasets.

A file is streamed into a hidden temporary file beside its destination, hashed on the
way, and renamed into place only when the md5 matches, so an interrupted or corrupted
download never leaves a file that looks complete. Mirrors are tried in order.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from aecli.errors import UserError

log = logging.getLogger(__name__)

_CHUNK_BYTES = 1 << 20


def fetch(filename: str, md5: str, folder: Path, mirrors: Sequence[str], what: str) -> Path:
    """Download `filename` into `folder` from the first mirror whose copy has the given md5.

    mirrors: base URLs (http, https or file), the file name is appended to each.
    what: the dataset's name, for messages ("FashionMNIST").
    Returns the path of the verified file.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create {folder} for the {what} download ({error}); set data.root to a writable folder")
    errors = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        log.info("downloading %s", url)
        try:
            digest = _fetch_one(url, md5, folder / filename)
        except (urllib.error.URLError, OSError, ValueError) as error:
            errors.append(f"{url}: {error}")
            continue
        if digest != md5:
            errors.append(f"{url}: md5 {digest} does not match {md5}")
            continue
        return folder / filename
    raise UserError(
        f"could not download {filename} ({'; '.join(errors) or 'no mirrors given'}); "
        f"place the {what} files in {folder} by hand and run again"
    )


def md5_of(path: Path) -> str:
    """Hex md5 of a file, read in chunks (archives are ~170 MB)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch_one(url: str, md5: str, target: Path) -> str:
    """Stream `url` to `target` and return its md5; nothing is left behind when it differs."""
    digest = hashlib.md5()
    handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False)
    try:
        with handle, urllib.request.urlopen(url, timeout=60) as response:
            for chunk in iter(lambda: response.read(_CHUNK_BYTES), b""):
                digest.update(chunk)
                handle.write(chunk)
        if digest.hexdigest() == md5:
            os.replace(handle.name, target)
        return digest.hexdigest()
    finally:
        if os.path.exists(handle.name):
            os.unlink(handle.name)
