"""One writer per run folder: an exclusive lock held for the whole of `train` and `resume`.

`hold_run_lock(run_dir, command)` takes `flock(LOCK_EX | LOCK_NB)` on `<run_dir>/.aecli.lock`
and records the holder (pid, host, command, start time) in that file. A second process
asking for the same folder is refused at once with one `UserError` line naming the holder
and the fix; it never waits, so a sweep or a script cannot hang on a busy folder.

Why flock: the kernel drops the lock when the holder's last file descriptor closes, which
includes the holder being killed (even by SIGKILL) or its machine losing the NFS mount. So a
lock left by a dead process never blocks: the file may still be there with the dead holder's
details in it, but nothing holds it, and the next process simply takes it over. There is no
"stale lock" to clean up by hand and no pid-liveness guessing (which breaks across hosts).

The lock file and the rest of the run folder:
- A clean release removes `.aecli.lock`, so a finished run folder carries no trace of it.
  A killed holder leaves the file behind. Either way the file is not an output of a run:
  checks that ask "does this folder already hold a run?" or "does it hold only Hydra's own
  files?" must ignore `LOCK_NAME` (`is_lock_file` says which name that is).
- Removing the file on release is safe because a process that wins the flock then checks
  that the path still names the very file it locked (same inode); if a releasing holder
  unlinked it in between, the winner retries on the new file instead of "holding" a lock
  nobody else can see.
- The lock is per open file, not per process: a second `hold_run_lock` on the same folder in
  the same process is allowed (re-entrant; the outermost hold releases), since refusing
  ourselves with our own pid would only confuse (train with `evaluate_after` goes on to
  evaluate its own folder). Processes forked while the lock is held (DataLoader workers)
  share it: the lock lasts until the last of them exits.
- On NFS, Linux emulates flock with POSIX locks, which closing *any* descriptor of the file
  in the holding process releases; so the holder never opens the lock file a second time
  (`read_holder` reads through the held descriptor).
- On a file system without flock support (some FUSE or `nolock` NFS mounts) the run goes on
  unlocked with a logged warning rather than refusing all work there.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aecli.errors import UserError

LOCK_NAME = ".aecli.lock"

log = logging.getLogger("aecli")

# Resolved run folder -> the open lock file descriptor this process holds it with.
_held: dict[Path, int] = {}

# A loser may read the file in the instant between the winner's flock and its record being
# written; it re-reads for this long before describing the holder as unknown.
_RECORD_WAIT_S = 0.5

# flock errors that mean "this file system cannot lock", not "someone holds it".
_NO_LOCKING = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) a run folder's lock, as recorded in the lock file."""

    pid: int | None
    host: str | None
    command: str | None
    since: float | None

    def describe(self) -> str:
        """'aecli train (pid 123 on host h, since 2024-05-01 12:00:00)', with what is known."""
        where = f"pid {self.pid}" if self.pid is not None else "an unknown pid"
        if self.host:
            where += f" on host {self.host}"
        if self.since is not None:
            where += f", since {datetime.fromtimestamp(self.since).strftime('%Y-%m-%d %H:%M:%S')}"
        who = f"aecli {self.command}" if self.command else "another aecli process"
        return f"{who} ({where})"


def is_lock_file(path: str | os.PathLike) -> bool:
    """Whether `path` is a run folder's lock file, which no run-folder check should count as an output."""
    return Path(path).name == LOCK_NAME


@contextmanager
def hold_run_lock(run_dir: str | os.PathLike, command: str, *, fix: str | None = None) -> Iterator[Path]:
    """Hold the exclusive lock on `run_dir` for the body of the `with`; yields the lock file's path.

    `command` ("train", "resume", ...) is recorded for whoever is refused. `fix` is the
    advice that ends a refusal; by default: wait for the holder to finish or stop it. The
    folder must exist; a folder that cannot be written is one UserError line.
    """
    folder = Path(run_dir).absolute()
    key = folder.resolve()
    if key in _held:  # re-entrant within this process: the outer hold releases
        yield folder / LOCK_NAME
        return
    fd = _acquire(folder, command, fix)
    if fd is None:  # the file system cannot lock: warned, run unlocked
        yield folder / LOCK_NAME
        return
    _held[key] = fd
    try:
        yield folder / LOCK_NAME
    finally:
        del _held[key]
        _release(folder / LOCK_NAME, fd)


def read_holder(run_dir: str | os.PathLike) -> LockHolder | None:
    """What the lock file of `run_dir` records (the holder, or a dead process's leftover), or None."""
    held = _held.get(Path(run_dir).absolute().resolve())
    if held is not None:
        # Read through the held descriptor: on NFS, flock is emulated with POSIX locks, which
        # closing any other descriptor of the file in this process would release.
        return _parse_record(os.pread(held, 4096, 0).decode(errors="replace"))
    try:
        text = (Path(run_dir) / LOCK_NAME).read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return LockHolder(None, None, None, None)
    return _parse_record(text)


def _acquire(folder: Path, command: str, fix: str | None) -> int | None:
    path = folder / LOCK_NAME
    if not folder.is_dir():
        raise UserError(f"run directory {folder} does not exist; aecli {command} needs the run's folder")
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as error:
            raise UserError(
                f"cannot lock the run directory {folder} ({error.strerror or error}); "
                f"aecli {command} needs a folder it can write"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UserError(_refusal(folder, command, fix)) from None
        except OSError as error:
            os.close(fd)
            if error.errno in _NO_LOCKING:
                log.warning(
                    "cannot lock %s (%s): this file system does not support flock, so a second "
                    "writer on this run folder would not be refused",
                    path, error.strerror or error,
                )
                return None
            raise
        if _still_linked(fd, path):
            break
        os.close(fd)  # a releasing holder removed the file after we opened it: lock the new one
    _write_record(fd, command)
    return fd


def _still_linked(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino)


def _write_record(fd: int, command: str) -> None:
    record = {"pid": os.getpid(), "host": socket.gethostname(), "command": command, "since": time.time()}
    data = (json.dumps(record) + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _release(path: Path, fd: int) -> None:
    # Unlink while still holding the lock, so nobody can take the old file over in between;
    # a process that opened it just before re-checks the inode (`_still_linked`) and retries.
    try:
        path.unlink(missing_ok=True)
    finally:
        os.close(fd)


def _refusal(folder: Path, command: str, fix: str | None) -> str:
    holder = _read_record_of_winner(folder)
    fix = fix or "wait for it to finish (or stop it), then run again"
    return f"the run directory {folder} is in use by {holder.describe()}; one writer per run folder: {fix}"


def _read_record_of_winner(folder: Path) -> LockHolder:
    deadline = time.monotonic() + _RECORD_WAIT_S
    while True:
        holder = read_holder(folder)
        if (holder is not None and holder.pid is not None) or time.monotonic() >= deadline:
            return holder or LockHolder(None, None, None, None)
        time.sleep(0.02)


def _parse_record(text: str) -> LockHolder:
    try:
        record = json.loads(text)
    except ValueError:
        return LockHolder(None, None, None, None)
    if not isinstance(record, dict):
        return LockHolder(None, None, None, None)

    def typed(key: str, kind: type | tuple[type, ...]) -> Any:  # a foreign or damaged file: ignore odd fields
        value = record.get(key)
        return value if isinstance(value, kind) and not isinstance(value, bool) else None

    since = typed("since", (int, float))
    return LockHolder(typed("pid", int), typed("host", str), typed("command", str), None if since is None else float(since))
