"""A full disk during `aecli train`, for real: a small tmpfs (root with mount, as in our
containers; skipped elsewhere, where tests/runs/test_write_failures.py's fake disk still runs).
One line saying how much space is needed, and the previous last.pt still loads."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import matplotlib.pyplot as plt
import pytest
import torch

from aecli.errors import UserError
from aecli.private_apis import tensorboard_writer_thread_class
from aecli.report.tensorboard import quiet_writer_thread_failures
from aecli.runs.store import atomic_write
from aecli.runs.write_failures import run_folder_write_failures
from conftest import TINY, run_cli, skip_guarantee


def mount_tmpfs(folder, size: str):
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        skip_guarantee("mounting a tmpfs needs root")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True).returncode:
        skip_guarantee("cannot mount a tmpfs here")


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    mount_tmpfs(disk, "1200k")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def test_a_disk_that_fills_during_training_is_one_line_and_keeps_the_last_checkpoint(small_disk, tmp_path):
    run_dir = small_disk / "run"
    result = run_cli("train", *TINY, "tsne.enabled=false", "log.reconstructions_every=0", f"hydra.run.dir={run_dir}",
                     cwd=tmp_path, check=False, env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "(No space left on device" in line and f"aecli train resume={run_dir}" in line
    last = run_dir / "checkpoints" / "last.pt"
    if "last.pt" in line.split(";")[0]:  # the checkpoint write itself failed: it says what it needs
        assert "it needs " in line and "the previous last.pt is intact" in line
    assert torch.load(last, weights_only=True)["epoch"] >= 1  # the previous checkpoint loads
    assert not list(run_dir.rglob(".*.tmp"))


def test_a_png_on_a_full_disk_leaves_no_truncated_file_and_says_so(tmp_path):
    disk = tmp_path / "disk"
    mount_tmpfs(disk, "64k")
    try:
        (disk / "filler").write_bytes(b"\0" * (60 * 1024))
        figure = plt.figure(figsize=(8, 8))
        plt.imshow(torch.rand(400, 400).numpy())
        with pytest.raises(UserError, match=r"cannot write .*tsne\.png.* \(No space left on device: .* free there\); "
                                             r"no checkpoint was written yet; FIX"):
            with run_folder_write_failures(disk, lambda: "FIX"):
                atomic_write(disk / "tsne.png", lambda handle: figure.savefig(handle, format="png"))
        plt.close(figure)
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]  # no 0-byte tsne.png, no temporary file
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def test_tensorboards_writer_thread_keeps_its_failure_for_the_caller_and_prints_no_traceback(tmp_path, capsys):
    """The private class quiet_writer_thread_failures relies on: fails loudly when TensorBoard changes."""
    thread_class = tensorboard_writer_thread_class()
    assert issubclass(thread_class, threading.Thread)
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(tmp_path))

    def full(data):
        raise OSError(28, "No space left on device")

    writer._async_writer._writer.write = full  # the record writer hits a full disk
    with quiet_writer_thread_failures():
        writer.add_event(__import__("tensorboard").compat.proto.event_pb2.Event(step=1))
        with pytest.raises(OSError, match="No space left"):
            writer.flush()
    assert isinstance(writer._async_writer._worker, thread_class)
    assert "Exception in thread" not in capsys.readouterr().err
