"""Fault injection through the real `aecli train`: SIGKILL and SIGTERM mid-run then resume,
a diverging loss, refused resumes, bad output folders and a sweep with a failing job."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from aecli.engine.curves import curve_tag
from conftest import TINY, aecli_command, run_aecli, run_cli, skip_guarantee
from conftest import events

# One thread per process: these tiny models run several times faster that way on a busy machine.
ENV = {"OMP_NUM_THREADS": "1"}
# 480 training samples in batches of 40: 12 steps per epoch. Denoising draws random numbers
# every step, so an exact resume needs the generators restored, not only the weights.
RUN = ["dataset.num_samples=600", "trainer.batch_size=40", "trainer.epochs=5", "regularizer=denoising",
       "tsne.enabled=false", "log.reconstructions_every=0", "trainer.device=cpu"]
TIMINGS = {"train_seconds", "tsne_seconds", "total_seconds"}


def metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def without_timings(values: dict) -> dict:
    return {key: value for key, value in values.items() if key not in TIMINGS}


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` with the md5 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line_error(result: subprocess.CompletedProcess, text: str) -> None:
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert text in result.stderr, result.stderr


def signal_after_first_checkpoint(run_dir: Path, signum: int, *args: str) -> subprocess.CompletedProcess:
    """Start `aecli train`, send `signum` as soon as checkpoints/last.pt exists, wait for the end."""
    env = os.environ | {"PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"} | ENV
    process = subprocess.Popen(
        [*aecli_command(), "train", *args, f"hydra.run.dir={run_dir}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    deadline = time.monotonic() + 300
    while not (run_dir / "checkpoints" / "last.pt").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    run_dir = tmp_path_factory.mktemp("uninterrupted") / "run"
    run_aecli("train", *RUN, f"hydra.run.dir={run_dir}", env=ENV)
    return metrics(run_dir)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished two-epoch run; tests work on copies of it."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    run_cli("train", *TINY, "tsne.enabled=false", f"hydra.run.dir={run_dir}", env=ENV)
    return run_dir


def copy_of(run_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run_dir, tmp_path / "run"))


def test_sigkill_mid_run_then_resume_reaches_the_uninterrupted_metrics(uninterrupted, tmp_path):
    run_dir = tmp_path / "run"
    killed = signal_after_first_checkpoint(run_dir, signal.SIGKILL, *RUN)
    assert killed.returncode == -signal.SIGKILL
    assert torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["epoch"] < 5
    assert not (run_dir / "metrics.json").exists()

    result = run_aecli("train", f"resume={run_dir}", env=ENV)
    assert f"resuming {run_dir} after epoch" in result.stdout
    assert without_timings(metrics(run_dir)) == without_timings(uninterrupted)
    tb = events(run_dir)  # appended, and what the killed session logged past last.pt is purged
    for tag in (curve_tag("total", "train"), curve_tag("total", "val"), curve_tag("recon_sse", "val")):
        assert [e.step for e in tb.Scalars(tag)] == [1, 2, 3, 4, 5]
    assert not list((run_dir / "checkpoints").glob(".*.tmp"))


def test_sigterm_stops_gracefully_then_resume_reaches_the_uninterrupted_metrics(uninterrupted, tmp_path):
    run_dir = tmp_path / "run"
    stopped = signal_after_first_checkpoint(run_dir, signal.SIGTERM, *RUN)
    assert stopped.returncode == 128 + signal.SIGTERM
    one_line_error(stopped, "aecli train: stopped: SIGTERM received; stopped at ")
    assert f"continue with: aecli train resume={run_dir}" in stopped.stderr
    assert metrics(run_dir)["status"] == "stopped"

    run_aecli("train", f"resume={run_dir}", env=ENV)
    assert without_timings(metrics(run_dir)) == without_timings(uninterrupted)


def test_diverging_resume_keeps_the_last_good_checkpoint_and_records_the_failure(finished_run, tmp_path):
    run_dir = copy_of(finished_run, tmp_path)
    checkpoints = snapshot(run_dir / "checkpoints")
    result = run_cli("train", f"resume={run_dir}", "trainer.epochs=4", "trainer.lr=1e6", check=False, env=ENV)
    assert result.returncode == 3
    one_line_error(result, "aecli train: error: training diverged: the loss term 'recon' became ")
    assert "at epoch 3, step " in result.stderr
    assert "checkpoints/last.pt (epoch 2) is kept as the last good state" in result.stderr
    assert snapshot(run_dir / "checkpoints") == checkpoints
    recorded = metrics(run_dir)
    assert recorded["status"] == "diverged" and recorded["failure_epoch"] == 3 and recorded["failure_term"] == "recon"
    assert recorded["test_loss"] == metrics(finished_run)["test_loss"]  # the finished run's figures stay


def test_fresh_run_that_diverges_says_so_in_one_line(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli("train", *TINY, "trainer.lr=1e12", f"hydra.run.dir={run_dir}", check=False, env=ENV)
    assert result.returncode == 3
    one_line_error(result, "at epoch 1, step ")
    assert "no checkpoint was written" in result.stderr
    assert metrics(run_dir)["status"] == "diverged"


@pytest.mark.parametrize(
    "prepare, args, message",
    [
        (None, ["model.latent_dim=3"], "so model.latent_dim cannot change; allowed on resume: trainer.epochs"),
        (None, ["trainer.epochs=1"], "the run has trained 2 epochs already; trainer.epochs=1 must be at least 2"),
        (None, [], "the run already finished its 2 epochs; to train longer pass trainer.epochs=N"),
        (lambda run: (run / ".hydra" / "config.yaml").write_text(
            (run / ".hydra" / "config.yaml").read_text().replace("latent_dim: 2", "latent_dim: 4")),
         ["trainer.epochs=3"], "does not fit the model in the config"),
        (lambda run: (run / "checkpoints" / "last.pt").write_bytes((run / "checkpoints" / "last.pt").read_bytes()[:2000]),
         ["trainer.epochs=3"], "last.pt is not a readable checkpoint"),
        (lambda run: shutil.rmtree(run / ".hydra"), [], "is not an aecli run (no .hydra/config.yaml)"),
    ],
    ids=["changed-model", "fewer-epochs", "finished", "config-does-not-fit", "truncated-checkpoint", "not-a-run"],
)
def test_refused_resume_is_one_line_and_changes_nothing(finished_run, tmp_path, prepare, args, message):
    run_dir = copy_of(finished_run, tmp_path)
    if prepare:
        prepare(run_dir)
    before = snapshot(run_dir)
    result = run_cli("train", f"resume={run_dir}", *args, check=False, env=ENV)
    assert result.returncode == 2
    one_line_error(result, message)
    assert snapshot(run_dir) == before


def test_a_folder_holding_a_run_is_not_trained_over(finished_run, tmp_path):
    run_dir = copy_of(finished_run, tmp_path)
    before = snapshot(run_dir)
    result = run_cli("train", *TINY, f"hydra.run.dir={run_dir}", check=False)
    assert result.returncode == 2
    one_line_error(result, f"{run_dir} already holds a run (checkpoints, metrics.json, tensorboard); continue it with resume={run_dir}")
    assert snapshot(run_dir) == before


def test_run_directory_under_a_file_is_one_line(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("keep me\n")
    result = run_cli("train", f"hydra.run.dir={blocker / 'run'}", check=False, cwd=tmp_path)
    assert result.returncode == 2
    one_line_error(result, f"cannot create the run directory {blocker / 'run'} (Not a directory)")
    assert blocker.read_text() == "keep me\n"


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nothing can be written into: chmod for a normal user; for root, which writes
    through permissions, a read-only tmpfs mounted there (skipped where mounting is not allowed)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        skip_guarantee("running as root, where chmod does not stop writes, and mounting a read-only tmpfs is not allowed")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_read_only_output_folder_is_one_line(read_only_folder, tmp_path):
    result = run_cli("train", f"hydra.run.dir={read_only_folder / 'run'}", check=False, cwd=tmp_path)
    assert result.returncode == 2
    one_line_error(result, f"cannot create the run directory {read_only_folder / 'run'}")
    assert list(read_only_folder.iterdir()) == []


def test_user_error_before_training_leaves_no_run_directory_but_keeps_an_existing_folder(tmp_path):
    result = run_cli("train", "trainer.epochs=0", cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert not (tmp_path / "outputs").exists()  # neither outputs/<date>/<time> nor the folders above it

    existing = tmp_path / "mine"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine\n")
    run_cli("train", "trainer.epochs=0", f"hydra.run.dir={existing}", cwd=tmp_path, check=False)
    assert (existing / "notes.txt").read_text() == "mine\n"


def test_sweep_with_a_failing_job_finishes_the_others_and_exits_non_zero(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        "train", "-m", "trainer.epochs=1,0,1", "dataset.num_samples=200", "tsne.enabled=false",
        f"hydra.sweep.dir={sweep}", cwd=tmp_path, check=False, env=ENV,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "aecli train: error: trainer.epochs must be a positive integer, or null (auto), got 0" in result.stdout + result.stderr
    for number in ("0", "2"):
        assert metrics(next(sweep.glob(f"{number}_*")))["status"] == "completed"
    assert not (next(sweep.glob("1_*")) / "checkpoints").exists()
