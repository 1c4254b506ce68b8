"""Issue 16 through the real commands: one writer per run folder, a hostile run folder, NaN
settings, read-only folders, resume's corner cases and sweeps. Each test failed before the fix
(notes/reliability_repro.md). Messages are checked in-process; real processes only where two
processes or a signal are the point."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aecli.runs.store import events_folder
from conftest import TINY, aecli_command, run_cli, skip_guarantee

ENV = {"OMP_NUM_THREADS": "1"}
FAST = [*TINY, "tsne.enabled=false", "log.reconstructions_every=0"]


def one_line(result, code: int = 2) -> str:
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    run_cli("train", *FAST, f"hydra.run.dir={run_dir}", env=ENV)
    return run_dir


def copy_of(run_dir: Path, tmp_path: Path, name: str = "run") -> Path:
    return Path(shutil.copytree(run_dir, tmp_path / name))


def start_train(*args: str) -> subprocess.Popen:
    env = os.environ | {"PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"} | ENV
    return subprocess.Popen([*aecli_command(), "train", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for(path: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.exists(), process.communicate()


def test_a_second_writer_on_a_run_folder_is_refused_naming_the_holder(finished, tmp_path):
    """A train and a resume run in two processes; a second train on the first's folder and a
    second resume of the same run are refused with one line naming the holder, and the
    first run's config and results are its own."""
    folder, run_dir = tmp_path / "S", copy_of(finished, tmp_path)
    training = start_train(*FAST, "trainer.epochs=12", "seed=1", f"hydra.run.dir={folder}")
    resuming = start_train(f"resume={run_dir}", "trainer.epochs=12")
    wait_for(folder / ".aecli.lock", training)
    wait_for(run_dir / ".aecli.lock", resuming)
    second = run_cli("train", *FAST, "seed=2", f"hydra.run.dir={folder}", cwd=tmp_path, check=False, env=ENV)
    refused = run_cli("train", f"resume={run_dir}", "trainer.epochs=12", cwd=tmp_path, check=False, env=ENV)
    assert training.wait(timeout=300) == 0 and resuming.wait(timeout=300) == 0
    message = one_line(second)
    assert f"in use by aecli train (pid {training.pid} on host " in message or "already holds a run" in message
    assert f"is in use by aecli train resume (pid {resuming.pid} on host " in one_line(refused)
    assert "seed: 1" in (folder / ".hydra" / "config.yaml").read_text()
    assert json.loads((folder / "metrics.json").read_text())["epochs"] == 12
    assert len({p.name.split(".")[4] for p in events_folder(folder).glob("events.*")}) == 1  # one process wrote
    assert not (folder / ".aecli.lock").exists() and not (run_dir / ".aecli.lock").exists()  # clean ends remove it


def test_a_lock_left_by_a_killed_run_never_blocks_its_resume(tmp_path):
    run_dir = tmp_path / "run"
    process = start_train(*FAST, "trainer.epochs=200", f"hydra.run.dir={run_dir}")
    wait_for(run_dir / "checkpoints" / "last.pt", process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert (run_dir / ".aecli.lock").exists()  # left behind, but nobody holds it
    # The lock is taken, then the config checked: a refused learning rate shows the lock did not block.
    result = run_cli("train", f"resume={run_dir}", "trainer.lr=-1", cwd=tmp_path, check=False, env=ENV)
    assert "trainer.lr must be a positive number, got -1" in one_line(result)
    assert not (run_dir / ".aecli.lock").exists()


BOMB = "\nlol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * 9)}]\n" for i in range(1, 5)
)


@pytest.mark.parametrize("command", ["evaluate", "visualize-latents", "resume"])
def test_an_alias_bomb_in_a_run_config_is_refused_in_one_line(finished, tmp_path, command):
    run_dir = copy_of(finished, tmp_path)
    with (run_dir / ".hydra" / "config.yaml").open("a") as handle:
        handle.write(BOMB)
    args = ["train", f"resume={run_dir}", "trainer.epochs=3"] if command == "resume" else [command, f"run={run_dir}"]
    result = run_cli(*args, cwd=tmp_path, check=False, env=ENV)
    assert "uses the YAML anchor &lol0 (line" in one_line(result)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["dataset.noise_std=nan"], "dataset.noise_std must be a number >= 0, got nan"),
        (["regularizer=denoising", "regularizer.denoising.level=nan"], "regularizer.denoising.level must be"),
        (["regularizer=l2", "regularizer.l2.weight=inf"], "regularizer.l2.weight must be a number >= 0, got inf"),
        (["regularizer=contractive", "regularizer.contractive.weight=nan"], "regularizer.contractive.weight must be"),
        (["trainer.optimizer=sgd", "trainer.momentum=nan"], "trainer.momentum must lie in [0, 1), got nan"),
        (["trainer.momentum=nan"], "trainer.momentum must lie in [0, 1), got nan"),
        (["trainer.momentum=1.5"], "trainer.momentum must lie in [0, 1), got 1.5"),
        (["seed=100000000000000000000000"], "seed must be an integer in 0..9223372036854775807"),
    ],
)
def test_non_finite_or_out_of_range_settings_are_refused_before_any_work(overrides, message, tmp_path):
    result = run_cli("train", *FAST, *overrides, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path, check=False)
    assert message in one_line(result)
    assert not (tmp_path / "run").exists()


@pytest.fixture
def read_only_run(finished, tmp_path):
    """A copy of the finished run on a read-only mount (root writes through chmod)."""
    if os.geteuid() != 0:
        run_dir = copy_of(finished, tmp_path)
        for folder in (run_dir, *[p for p in run_dir.rglob("*") if p.is_dir()]):
            folder.chmod(0o555)
        yield run_dir
        for folder in (run_dir, *[p for p in run_dir.rglob("*") if p.is_dir()]):
            folder.chmod(0o755)
        return
    mount = tmp_path / "ro"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount)], capture_output=True).returncode:
        skip_guarantee("cannot mount a tmpfs here")
    try:
        run_dir = copy_of(finished, mount)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        yield run_dir
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.mark.parametrize(
    "args, message",
    [
        (["evaluate"], "aecli evaluate writes its results there: copy the run (cp -r) to a writable folder"),
        (["visualize-latents"], "aecli visualize-latents writes its results there: copy the run (cp -r)"),
        (["train"], "resume writes into the run's own folder: make it writable, or copy the run (cp -r)"),
    ],
)
def test_a_read_only_run_folder_is_one_line_before_any_work(read_only_run, tmp_path, args, message):
    run = [f"resume={read_only_run}", "trainer.epochs=4"] if args == ["train"] else [f"run={read_only_run}"]
    started = time.perf_counter()
    result = run_cli(*args, *run, cwd=tmp_path, check=False, env=ENV)
    assert message in one_line(result)
    assert "choose another hydra.run.dir" not in result.stderr
    assert time.perf_counter() - started < 10


def test_resume_of_a_run_killed_during_evaluate_after_points_to_evaluate(finished, tmp_path):
    run_dir = copy_of(finished, tmp_path)
    config = run_dir / ".hydra" / "config.yaml"
    config.write_text(config.read_text().replace("evaluate_after: false", "evaluate_after: true"))
    result = run_cli("train", f"resume={run_dir}", cwd=tmp_path, check=False, env=ENV)
    assert f"complete it with aecli evaluate run={run_dir}" in one_line(result)


def test_a_damaged_metrics_json_is_reported_before_any_training(finished, tmp_path):
    run_dir = copy_of(finished, tmp_path)
    (run_dir / "metrics.json").write_text('{"val_loss": 1.0, broken\n')
    before = (run_dir / "checkpoints" / "last.pt").read_bytes()
    result = run_cli("train", f"resume={run_dir}", "trainer.epochs=4", cwd=tmp_path, check=False, env=ENV)
    assert "metrics.json (JSONDecodeError); fix it or move it away" in one_line(result)
    assert (run_dir / "checkpoints" / "last.pt").read_bytes() == before
    assert "resuming" not in result.stdout


def test_resume_of_a_folder_that_is_no_run_leaves_nothing_there(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine\n")
    result = run_cli("train", f"resume={folder}", cwd=tmp_path, check=False)
    assert "is not an aecli run (no .hydra/config.yaml)" in one_line(result)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_a_sweep_says_how_many_jobs_failed_and_prints_each_failure_once(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli("train", "-m", "trainer.epochs=1,0,1", "dataset.num_samples=200", "tsne.enabled=false",
                     f"hydra.sweep.dir={sweep}", cwd=tmp_path, check=False, env=ENV)
    assert result.returncode == 1
    assert (result.stdout + result.stderr).count("trainer.epochs must be a positive integer, or null (auto), got 0") == 2  # job, summary
    assert "aecli train: error: 1 of 3 jobs failed (1; 1: trainer.epochs must be a positive integer" in result.stderr
    assert "Error executing job" not in result.stderr + result.stdout
    assert "| failed: aecli train: error: trainer.epochs must be" in (sweep / "summary.md").read_text()


def test_a_sweep_job_stopped_by_sigint_appears_in_the_summary(tmp_path):
    sweep = tmp_path / "sweep"
    process = start_train("-m", "trainer.epochs=300,1", "dataset.num_samples=400", "tsne.enabled=false",
                          f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=${hydra.job.num}")  # folders 0 and 1
    wait_for(sweep / "0" / "checkpoints" / "last.pt", process)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130
    summary = (sweep / "summary.md").read_text()
    assert "| 0 | lines | stopped |" in summary  # job 0, its dataset, its status
