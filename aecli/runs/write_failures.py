"""A write that fails (a full disk, a quota, a read-only folder) as one UserError line.

What `torch.save` really raises when the disk fills up (torch 2.x, found on a 1 MiB tmpfs,
see tests/test_write_failures.py) is not an OSError but a RuntimeError from its zip writer:

    [enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598

When torch writes to a Python file object (as `checkpoint.atomic_write` makes it do), the
OSError(ENOSPC) raised by that object's `write` is kept only as the RuntimeError's
`__context__`. When torch opens the path itself, the context is another RuntimeError,
"basic_ios::clear: iostream error", and the errno is lost. Depending on where the space
runs out, the OSError can also come first: from closing the file object, whose buffered
bytes no longer fit, or from `flush`/`fsync`. Other torch versions word the zip writer's
failure "PytorchStreamWriter failed writing file ...". A handler that catches only OSError
(as `save_checkpoint` does today) lets most full-disk failures through as a traceback.

`write_failure_error` recognises all of these and says what a user needs to know: which file,
why, how much space the write needs (the payload's size) against what is free, and that the
previous file is intact. That last claim holds because it is meant for writes through
`checkpoint.atomic_write`, which leaves the previous file in place and removes its temporary
file on failure. Any other exception (a RuntimeError from a bug) is not a write failure and
is left to surface as a traceback.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aecli.errors import UserError

# errno values that mean "no room": the device, the user's quota, or the largest file allowed.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})

# How torch's zip writer words a failed write (the C++ message; see the module docstring).
_TORCH_WRITER_FAILURES = ("unexpected pos", "PytorchStreamWriter failed", "basic_ios::clear", "iostream error")


def write_failure_cause(error: BaseException) -> OSError | None:
    """The OSError behind a failed write: `error` itself, or the first OSError in its
    `__cause__`/`__context__` chain (where torch.save leaves the ENOSPC of the file object)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def is_torch_write_failure(error: BaseException) -> bool:
    """Whether `error` is torch.save's RuntimeError for a write its zip writer could not finish."""
    return isinstance(error, RuntimeError) and any(text in str(error) for text in _TORCH_WRITER_FAILURES)


def is_write_failure(error: BaseException) -> bool:
    """An OSError, or torch's writer failing (whatever sits in its context chain)."""
    return isinstance(error, OSError) or is_torch_write_failure(error)


def serialized_size(payload: Any) -> int:
    """How many bytes `torch.save(payload, ...)` writes, measured by saving into a counter
    (no memory or disk used beyond torch's own buffers). Meant for the failure path: it
    serializes the payload again."""
    import torch

    counter = _ByteCounter()
    torch.save(payload, counter)
    return counter.size


def write_failure_error(
    path: str | os.PathLike, error: BaseException, needed_bytes: int | None, fix: str
) -> UserError | None:
    """The one-line UserError for a failed atomic write of `path`, or None when `error` is
    not a write failure (then it is a bug and should surface as it is).

    `needed_bytes` is the size of what was being written (None when unknown); `fix` ends the line.
    """
    if not is_write_failure(error):
        return None
    path = Path(path)
    cause = write_failure_cause(error)
    free = _free_bytes(path.parent)
    no_room = (cause is not None and cause.errno in DISK_FULL_ERRNOS) or (
        cause is None and needed_bytes is not None and free is not None and free < needed_bytes
    )
    if no_room:
        reason = cause.strerror if cause is not None and cause.strerror else "no space left on the device"
        sizes = []
        if needed_bytes is not None:
            sizes.append(f"it needs {format_size(needed_bytes)}")
        if free is not None:
            sizes.append(f"{format_size(free)} free there")
        why = f"{reason}: {', '.join(sizes)}" if sizes else reason
    elif cause is not None:
        why = cause.strerror or str(cause)
    else:
        why = f"torch could not write it: {str(error).strip().splitlines()[0]}"
    previous = f"the previous {path.name} is intact" if path.exists() else f"no partial {path.name} was left"
    return UserError(f"cannot write {path} ({why}); {previous}; {fix}")


@contextmanager
def write_failures_as_user_errors(
    path: str | os.PathLike, fix: str, needed_bytes: int | Callable[[], int] | None = None
) -> Iterator[None]:
    """Turn a failed atomic write of `path` inside the `with` into its one-line UserError.

    `needed_bytes` may be a callable (say `lambda: serialized_size(payload)`), called only
    when the write failed. Exceptions that are not write failures pass through untouched.
    """
    try:
        yield
    except (OSError, RuntimeError) as error:
        if not is_write_failure(error):
            raise
        size = needed_bytes() if callable(needed_bytes) else needed_bytes
        user_error = write_failure_error(path, error, size, fix)
        assert user_error is not None  # is_write_failure said it is one
        raise user_error from error


def format_size(num_bytes: int) -> str:
    """'512 bytes', '3.4 KiB', '1.2 MiB', '2.0 GiB'."""
    if num_bytes < 1024:
        return f"{num_bytes} bytes"
    size = float(num_bytes)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        size /= 1024
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}"
    raise AssertionError("unreachable")


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


class _ByteCounter:
    """A write-only file object that keeps nothing but the count."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: Any) -> int:
        length = memoryview(data).nbytes
        self.size += length
        return length

    def flush(self) -> None:
        pass


# errno values a whole command stops on: no room, or a folder that turned read-only under it.
STOPPING_ERRNOS = DISK_FULL_ERRNOS | {errno.EROFS}


@contextmanager
def run_folder_write_failures(run_dir: str | os.PathLike, fix: Callable[[], str]) -> Iterator[None]:
    """Turn a failed write anywhere in a run folder (TensorBoard's event files, metrics.json, a
    PNG, a checkpoint torch could not finish) into one UserError line naming the file, the free
    space and what is intact; `fix()` (called only then) ends the line. Other errors pass through."""
    try:
        yield
    except UserError:
        raise
    except (OSError, RuntimeError) as error:
        cause = write_failure_cause(error)
        if not (is_torch_write_failure(error) or (cause is not None and cause.errno in STOPPING_ERRNOS)):
            raise
        folder = Path(run_dir)
        path = Path(cause.filename) if cause is not None and isinstance(cause.filename, (str, bytes)) and cause.filename else folder
        path = Path(os.fsdecode(path))
        reason = cause.strerror if cause is not None and cause.strerror else "torch could not finish the write"
        free = _free_bytes(folder)
        room = f": {format_size(free)} free there" if free is not None and cause is not None and cause.errno in DISK_FULL_ERRNOS else ""
        last = folder / "checkpoints" / "last.pt"
        kept = "checkpoints/last.pt is intact" if last.is_file() else "no checkpoint was written yet"
        raise UserError(f"cannot write {path} ({reason}{room}); {kept}; {fix()}") from error
