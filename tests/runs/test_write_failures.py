"""A full disk during a checkpoint write: what torch.save really raises, and the one line a
user gets instead, saying how much space is needed and that the previous file is intact.

The real thing runs on a 1 MiB tmpfs where this process may mount one (root with
CAP_SYS_ADMIN, as in our containers); everywhere else the same checks run on a file object
that fills up the way the kernel's does: write() raises OSError(ENOSPC).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess

import pytest
import torch

from aecli.runs.store import atomic_write
from aecli.errors import UserError
from conftest import skip_guarantee
from aecli.runs.write_failures import (
    format_size,
    serialized_size,
    write_failure_cause,
    write_failure_error,
    write_failures_as_user_errors,
)

FIX = "free space and continue with resume=RUN_DIR"


def payload(num_floats: int) -> dict:
    """A checkpoint-shaped payload of about 4 * num_floats bytes."""
    return {"format": "aecli-checkpoint", "epoch": 1, "model": {"weight": torch.arange(num_floats, dtype=torch.float32)}}


class FullDisk:
    """A file object with `room` bytes left: write() then raises OSError(ENOSPC), as a file on a full
    file system does (after writing what still fits, like a short write(2))."""

    def __init__(self, handle, room: int):
        self.handle, self.room = handle, room

    def write(self, data) -> int:
        data = bytes(data)
        if not self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        part = data[: self.room]
        self.room -= len(part)
        return self.handle.write(part)

    def flush(self) -> None:
        self.handle.flush()


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 1 MiB tmpfs, or a skip where mounting is not allowed (the fake-disk tests still run)."""
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        skip_guarantee("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True)
    if mounted.returncode != 0:
        skip_guarantee(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def save_through_atomic_write(path, data, room: int | None = None) -> None:
    """checkpoint.save_checkpoint's write: torch.save into atomic_write's temporary file."""
    if room is None:
        atomic_write(path, lambda handle: torch.save(data, handle))
    else:
        atomic_write(path, lambda handle: torch.save(data, FullDisk(handle, room)))


def check_one_line_and_previous_intact(error: UserError, path, needed: int, previous: dict) -> None:
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"cannot write {path} (No space left on device: it needs {format_size(needed)}, ")
    assert message.endswith(f"; the previous last.pt is intact; {FIX}")
    reloaded = torch.load(path, weights_only=True)
    assert torch.equal(reloaded["model"]["weight"], previous["model"]["weight"])
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]  # no temporary file left


def test_torch_save_on_a_full_tmpfs_raises_a_runtime_error_with_the_enospc_as_its_context(tiny_tmpfs):
    # The finding that save_checkpoint's `except OSError` misses: not an OSError at all.
    with pytest.raises(RuntimeError, match="unexpected pos|PytorchStreamWriter failed") as raised:
        save_through_atomic_write(tiny_tmpfs / "last.pt", payload(500_000))  # 2 MB into 1 MiB
    assert write_failure_cause(raised.value).errno == errno.ENOSPC
    assert list(tiny_tmpfs.iterdir()) == []  # atomic_write removed its temporary file


def test_a_full_tmpfs_is_one_line_with_the_space_needed_and_the_previous_checkpoint_intact(tiny_tmpfs):
    path = tiny_tmpfs / "last.pt"
    previous, bigger = payload(50_000), payload(500_000)
    save_through_atomic_write(path, previous)
    with pytest.raises(UserError) as raised:
        with write_failures_as_user_errors(path, FIX, needed_bytes=lambda: serialized_size(bigger)):
            save_through_atomic_write(path, bigger)
    free = shutil.disk_usage(tiny_tmpfs).free
    assert f"{format_size(free)} free there" in str(raised.value)
    check_one_line_and_previous_intact(raised.value, path, serialized_size(bigger), previous)


def test_torch_saving_to_a_path_on_a_full_tmpfs_loses_the_errno_but_is_still_named_a_full_disk(tiny_tmpfs):
    # torch.save(obj, path) writes through a C++ stream: the context is "basic_ios::clear", no
    # errno; the space needed against the space free still tells what happened.
    path, bigger = tiny_tmpfs / "model.pt", payload(500_000)
    with pytest.raises(UserError, match=r"\(no space left on the device: it needs 1\.9 MiB, .* free there\); no partial model.pt"):
        with write_failures_as_user_errors(path, FIX, needed_bytes=serialized_size(bigger)):
            try:
                torch.save(bigger, path)
            finally:
                path.unlink(missing_ok=True)  # torch leaves its partial file; atomic_write would not


@pytest.mark.parametrize("room", [0, 100, 5_000, 150_000])
def test_torch_save_into_a_filling_file_raises_what_the_real_disk_does(tmp_path, room):
    # The fake disk reproduces the tmpfs finding wherever a mount is not allowed; the room
    # values put the failure in the zip header, the first record and the middle of the weights.
    with pytest.raises((RuntimeError, OSError)) as raised:
        save_through_atomic_write(tmp_path / "last.pt", payload(50_000), room=room)
    if room:
        assert isinstance(raised.value, RuntimeError) and "unexpected pos" in str(raised.value)
    assert write_failure_cause(raised.value).errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("room", [0, 5_000, 150_000])
def test_a_filling_disk_is_one_line_with_the_space_needed_and_the_previous_checkpoint_intact(tmp_path, room):
    path = tmp_path / "last.pt"
    previous, bigger = payload(1_000), payload(50_000)
    save_through_atomic_write(path, previous)
    with pytest.raises(UserError) as raised:
        with write_failures_as_user_errors(path, FIX, needed_bytes=lambda: serialized_size(bigger)):
            save_through_atomic_write(path, bigger, room=room)
    check_one_line_and_previous_intact(raised.value, path, serialized_size(bigger), previous)


def test_serialized_size_is_what_atomic_write_puts_on_disk(tmp_path):
    data = payload(12_345)
    save_through_atomic_write(tmp_path / "last.pt", data)
    assert serialized_size(data) == (tmp_path / "last.pt").stat().st_size


def test_a_read_only_folder_says_so_without_talking_about_space(tmp_path):
    error = OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / "metrics.json"))
    message = str(write_failure_error(tmp_path / "metrics.json", error, 200, "make the folder writable"))
    assert message == (
        f"cannot write {tmp_path / 'metrics.json'} (Read-only file system); no partial metrics.json was left; "
        f"make the folder writable"
    )


def test_an_error_that_is_not_a_failed_write_passes_through_untouched(tmp_path):
    sized = []
    bug = RuntimeError("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)")
    with pytest.raises(RuntimeError) as raised:
        with write_failures_as_user_errors(tmp_path / "last.pt", FIX, needed_bytes=lambda: sized.append(1) or 0):
            raise bug
    assert raised.value is bug and sized == []  # a bug stays a traceback; nothing was re-serialized
    assert write_failure_error(tmp_path / "last.pt", ValueError("x"), None, FIX) is None


def test_format_size():
    assert [format_size(n) for n in (0, 1023, 1024, 1536, 5 << 20, 3 << 30)] == [
        "0 bytes", "1023 bytes", "1.0 KiB", "1.5 KiB", "5.0 MiB", "3.0 GiB"
    ]
