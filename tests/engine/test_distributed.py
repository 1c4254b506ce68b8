"""Distributed runs (trainer.devices, torchrun, SLURM): where a process stands from the
environment, how a batch and a split are cut between ranks, and real runs of two gloo processes on
the CPU: the same test loss as one process with the same global batch, one run folder owned by rank
0, a graceful stop that leaves a resumable last.pt and no process behind, a resume on another
number of processes, and two processes that find each other from a faked SLURM environment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from aecli.errors import UserError
from aecli.runs.ranks import World, first_node, rendezvous, world_from_env
from conftest import run_aecli, run_cli

TINY = ("dataset.num_samples=400", "tsne.enabled=false", "log.num_reconstructions=0", "trainer.batch_size=32",
        "trainer.progress=false")


def test_the_environment_names_the_world_torchrun_first_then_slurm():
    assert world_from_env({}) is None
    assert world_from_env({"RANK": "0", "WORLD_SIZE": "1"}) is None  # one process is no distributed run
    torchrun = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    assert world_from_env(torchrun) == World(3, 4, 1, 2)
    slurm = {"SLURM_PROCID": "5", "SLURM_STEP_NUM_TASKS": "8", "SLURM_LOCALID": "1", "SLURM_NTASKS_PER_NODE": "4(x2)"}
    assert world_from_env(slurm) == World(5, 8, 1, 4)
    assert world_from_env({"SLURM_PROCID": "0", "SLURM_NTASKS": "4"}) is None  # a batch script, not a step of 4 tasks


def test_the_rendezvous_comes_from_master_variables_or_the_slurm_job():
    assert rendezvous({"MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"}) == ("10.0.0.1", 29500)
    job = {"SLURM_JOB_NODELIST": "gpu[07-09,12],cpu1", "SLURM_JOB_ID": "123456"}
    assert rendezvous(job) == ("gpu07", 20_000 + 123456 % 20_000)
    assert first_node("node5") == "node5" and first_node("a[1,3]") == "a1"
    with pytest.raises(UserError, match="needs MASTER_ADDR and MASTER_PORT"):
        rendezvous({})


def test_every_sample_of_a_batch_and_a_split_belongs_to_exactly_one_rank():
    batch = torch.arange(10)
    slices = [World(rank, 3).shard(batch) for rank in range(3)]
    assert torch.equal(torch.cat(slices), batch) and [len(s) for s in slices] == [4, 3, 3]
    rows = [World(rank, 3).rows(7) for rank in range(3)]
    assert [(r.start, r.stop) for r in rows] == [(0, 3), (3, 5), (5, 7)]
    seeds = {World(rank, 2).noise_seed(0, epoch, step) for rank in range(2) for epoch in (1, 2) for step in (1, 2)}
    assert len(seeds) == 8  # every rank, epoch and step draws its own noise


def test_a_batch_too_small_to_give_every_rank_a_sample_is_refused():
    from aecli.engine.batch_norm import check_last_batch

    with pytest.raises(UserError, match="trainer.devices=4 cuts every batch into 4 slices.*holds 2"):
        check_last_batch(torch.nn.Linear(2, 2), 10, 8, ranks=4)
    check_last_batch(torch.nn.Linear(2, 2), 10, 8, ranks=2)


def test_two_processes_reach_the_test_loss_of_one_with_the_same_global_batch(tmp_path):
    """No noise in the model or the data: the ranks' slices of each global batch give, averaged by
    DDP, the gradient of the whole batch, so the two runs agree to float tolerance."""
    one = tmp_path / "one"
    two = tmp_path / "two"
    run_cli("train", *TINY, "trainer.epochs=3", f"hydra.run.dir={one}", cwd=tmp_path)
    run_cli("train", *TINY, "trainer.epochs=3", "trainer.devices=2", f"hydra.run.dir={two}", cwd=tmp_path)
    single, double = (json.loads((path / "metrics.json").read_text()) for path in (one, two))
    assert double["world_size"] == 2 and single["world_size"] == 1
    assert double["test_loss"] == pytest.approx(single["test_loss"], rel=1e-4)
    assert double["val_loss"] == pytest.approx(single["val_loss"], rel=1e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]  # the ranks made no folder of their own
    log = (two / "train.log").read_text()
    assert log.count("epoch 3/3") == 1 and "rank" not in log  # rank 0's lines, once


def test_a_sigterm_stops_every_rank_leaves_a_resumable_checkpoint_and_no_process_then_resumes_on_one(tmp_path):
    run = tmp_path / "run"
    command = [*_aecli(), "train", *TINY, "trainer.epochs=400", "trainer.devices=2", f"hydra.run.dir={run}"]
    launcher = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ranks = _wait_for_epoch(launcher, run / "train.log")
    launcher.send_signal(signal.SIGTERM)
    _, err = launcher.communicate(timeout=120)
    assert launcher.returncode == 128 + signal.SIGTERM, err
    assert "stopped" in err and f"aecli train resume={run}" in err
    assert ranks and _all_gone(ranks)  # no rank (nor torch's resource tracker) left behind
    last = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert json.loads((run / "metrics.json").read_text())["status"] == "stopped"
    run_cli("train", f"resume={run}", f"trainer.epochs={last['epoch'] + 1}", "trainer.devices=1", cwd=tmp_path)
    assert json.loads((run / "metrics.json").read_text())["status"] == "completed"


def test_two_processes_of_a_faked_slurm_step_find_each_other_and_share_one_run_folder(tmp_path):
    """The default run folder (named from the start time) is the same for both tasks: rank 0's time
    reaches the other through the shared store."""
    env = {**os.environ, "SLURM_JOB_ID": str(40_000 + os.getpid() % 10_000), "SLURM_JOB_NODELIST": "localhost",
           "SLURM_STEP_NUM_TASKS": "2", "SLURM_NTASKS_PER_NODE": "2"}
    env.pop("MASTER_ADDR", None), env.pop("MASTER_PORT", None)
    tasks = [subprocess.Popen([*_aecli(), "train", *TINY, "trainer.epochs=2"], cwd=tmp_path,
                              env={**env, "SLURM_PROCID": str(rank), "SLURM_LOCALID": str(rank)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in range(2)]
    outputs = [task.communicate(timeout=240) for task in tasks]
    assert [task.returncode for task in tasks] == [0, 0], outputs
    folders = list((tmp_path / "outputs").glob("*/*"))
    assert len(folders) == 1, folders
    assert json.loads((folders[0] / "metrics.json").read_text())["world_size"] == 2
    assert not (folders[0] / ".hydra").exists() or (folders[0] / ".hydra" / "config.yaml").is_file()


def _all_gone(pids: list[int], timeout: float = 10) -> bool:
    """Whether every process of `pids` has ended (gone, or a zombie awaiting its reaper) within `timeout`."""
    def alive(pid: int) -> bool:
        try:
            state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State:"))
        except (OSError, StopIteration):
            return False
        return "Z" not in state.split()[1]

    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _aecli() -> list[str]:
    return [sys.executable, "-m", "aecli"]


def _wait_for_epoch(launcher: subprocess.Popen, log: Path, timeout: float = 120) -> list[int]:
    """Wait until the run has logged its first epoch; the pids of its ranks."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.is_file() and "epoch" in log.read_text():
            children = Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children")
            return [int(pid) for pid in children.read_text().split()] if children.exists() else []
        if launcher.poll() is not None:
            pytest.fail(f"the run ended early: {launcher.communicate()}")
        time.sleep(0.2)
    pytest.fail("no epoch within the timeout")


def test_synchronized_batch_norm_is_refused_off_the_gpu_before_any_work():
    from aecli.engine.distributed import check_sync_batch_norm

    with pytest.raises(UserError, match="model.sync_batch_norm=true needs GPUs"):
        check_sync_batch_norm(True, torch.device("cpu"), World(0, 2))
    check_sync_batch_norm(True, torch.device("cpu"), World())  # one process: nothing to synchronize
    check_sync_batch_norm(False, torch.device("cpu"), World(0, 2))


def test_torchrun_starts_one_run_in_one_folder(tmp_path):
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "aecli",
                           "train", *TINY, "trainer.epochs=2"], cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    folders = list((tmp_path / "outputs").glob("*/*"))
    assert len(folders) == 1 and json.loads((folders[0] / "metrics.json").read_text())["world_size"] == 2
    assert (folders[0] / ".hydra" / "config.yaml").is_file() and (folders[0] / "checkpoints" / "best.pt").is_file()
