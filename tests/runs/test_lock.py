"""One writer per run folder: the lock refuses a second holder in one line, and a holder that
was killed (even by SIGKILL) never blocks the next run."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from datetime import datetime

import pytest
from omegaconf import OmegaConf

from aecli.errors import UserError
from aecli.runs.guard import RunDirGuard
from aecli.runs.lock import LOCK_NAME, hold_run_lock, read_holder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HOLD_UNTIL_KILLED = textwrap.dedent(
    """
    import sys, time
    from aecli.runs.lock import hold_run_lock
    with hold_run_lock(sys.argv[1], "train"):
        print("held", flush=True)
        time.sleep(120)
    """
)


def child_env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_a_second_holder_is_refused_in_one_line_naming_the_holder_and_the_fix(tmp_path):
    # Another process's hold, as the lock file would look: flocked through its own open file.
    since = time.time() - 60
    other = os.open(tmp_path / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(other, json.dumps({"pid": 4242, "host": "node7", "command": "resume", "since": since}).encode())
    try:
        with pytest.raises(UserError) as refused:
            with hold_run_lock(tmp_path, "train", fix="wait for it to finish, or choose another hydra.run.dir"):
                pytest.fail("the body must not run while another process holds the folder")
    finally:
        os.close(other)
    message = str(refused.value)
    assert "\n" not in message
    assert str(tmp_path) in message
    assert "aecli resume (pid 4242 on host node7, since " in message
    assert datetime.fromtimestamp(since).strftime("%Y-%m-%d %H:%M:%S") in message
    assert message.endswith("wait for it to finish, or choose another hydra.run.dir")


def test_a_holder_killed_with_sigkill_never_blocks_the_next_run(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_UNTIL_KILLED, str(tmp_path)],
        stdout=subprocess.PIPE, text=True, env=child_env(),
    )
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match=rf"in use by aecli train \(pid {child.pid} on host {socket.gethostname()}, since "):
            with hold_run_lock(tmp_path, "resume"):
                pass
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()

    assert read_holder(tmp_path).pid == child.pid  # the dead holder's record is still there...
    with hold_run_lock(tmp_path, "resume"):  # ...and does not block: the kernel dropped its flock
        holder = read_holder(tmp_path)
        assert (holder.pid, holder.command) == (os.getpid(), "resume")


def test_release_removes_the_lock_file_and_the_folder_can_be_locked_again(tmp_path):
    with hold_run_lock(tmp_path, "train") as lock_file:
        assert lock_file == tmp_path / LOCK_NAME and lock_file.is_file()
    assert not (tmp_path / LOCK_NAME).exists()
    with hold_run_lock(tmp_path, "resume"):
        assert read_holder(tmp_path).command == "resume"
    assert sorted(tmp_path.iterdir()) == []


def test_the_lock_is_reentrant_within_one_process(tmp_path):
    # train with evaluate_after goes on to evaluate the same folder: it must not refuse itself.
    with hold_run_lock(tmp_path, "train"):
        with hold_run_lock(tmp_path, "evaluate"):
            pass
        assert read_holder(tmp_path).command == "train"  # the outer hold is still in force
    assert not (tmp_path / LOCK_NAME).exists()


def test_the_lock_is_released_when_the_body_fails(tmp_path):
    with pytest.raises(UserError, match="boom"):
        with hold_run_lock(tmp_path, "train"):
            raise UserError("boom")
    with hold_run_lock(tmp_path, "train"):
        pass


def test_a_missing_run_folder_is_one_line(tmp_path):
    with pytest.raises(UserError, match=r"run directory .*missing does not exist"):
        with hold_run_lock(tmp_path / "missing", "resume"):
            pass


def test_a_leftover_lock_file_does_not_make_the_folder_look_like_a_run(tmp_path, capsys):
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "gone", "command": "train", "since": 0}))
    config = OmegaConf.create({"hydra": {"run": {"dir": str(tmp_path)}, "job": {"name": "train"}}, "resume": None})
    RunDirGuard().on_run_start(config)  # exits 2 with "already holds a run" if it counted
    assert capsys.readouterr().err == ""


WORKER = textwrap.dedent(
    """
    import os, random, sys, time
    from aecli.errors import UserError
    from aecli.runs.lock import LOCK_NAME, hold_run_lock
    folder, sentinel, go = sys.argv[1], sys.argv[2], float(sys.argv[3])

    # Pause between opening the lock file and locking it, as a busy machine may: this is
    # the window in which a releasing holder removes the file.
    real_open = os.open
    def slow_open(path, *args, **kwargs):
        fd = real_open(path, *args, **kwargs)
        if str(path).endswith(LOCK_NAME):
            time.sleep(random.uniform(0, 0.005))
        return fd
    os.open = slow_open

    time.sleep(max(0.0, go - time.time()))  # start racing together, however long start-up took
    deadline = max(go, time.time()) + 1.5
    held = 0
    while time.time() < deadline:
        try:
            with hold_run_lock(folder, "train"):
                fd = os.open(sentinel, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # fails if another holder is inside
                os.close(fd)
                held += 1
                os.unlink(sentinel)
        except UserError:
            pass
        except FileExistsError:
            print("OVERLAP", flush=True)
            sys.exit(1)
    print(held, flush=True)
    """
)


def test_processes_racing_for_the_folder_never_hold_it_together(tmp_path):
    # Acquire and release as fast as possible from three processes: each release unlinks the
    # file, so this exercises a winner that locked a file another holder just removed. (Without
    # the re-check that the locked file is still the one on disk, this finds an overlap in
    # most runs, not all: it is a race.)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    go = time.time() + 1.0  # starting three interpreters takes a moment
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(run_dir), str(tmp_path / "inside"), str(go)],
            stdout=subprocess.PIPE, text=True, env=child_env(),
        )
        for _ in range(3)
    ]
    outputs = [worker.communicate(timeout=30)[0].strip() for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs
    assert sum(int(output) for output in outputs) > 0
