"""Reliability inside the process: graceful stop and exact resume, the NaN guard, checkpoint
writes that fail or crash half-way, and checkpoints that do not fit the model."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from hydra import compose, initialize_config_module

from aecli.engine.experiment import build_experiment
from aecli.runs.checkpoint import load_checkpoint, load_model_state, save_checkpoint
from aecli.errors import TrainingDiverged, TrainingStopped, UserError
from aecli.engine.guards import GracefulStop
from aecli.engine.loop import fit
from aecli.engine.state import TrainState

# 200 lines -> 160 training samples -> 5 batches of 32 per epoch; denoising makes every
# step draw random numbers, so resuming must restore the generators to match.
SMALL = ["dataset.num_samples=200", "trainer.batch_size=32", "trainer.epochs=3", "trainer.progress=false",
         "regularizer=denoising"]


class Scalars:
    """Stands in for the TensorBoard writer."""

    def __init__(self):
        self.logged = []

    def add_scalar(self, tag, value, step):
        self.logged.append((tag, step, value))

    def flush(self):
        pass


def experiment(*overrides):
    with initialize_config_module("aecli.configs", version_base="1.3"):
        cfg = compose("train", overrides=[*SMALL, *overrides])
    torch.manual_seed(cfg.seed)
    return cfg, build_experiment(cfg, torch.device("cpu"))


def train(cfg, exp, run_dir, resume=None):
    if resume is not None:  # what `aecli train resume=` does with last.pt: the optimizer, then the position
        exp.restore(resume, "last.pt", optimizer=True)
    with GracefulStop() as stop:
        return fit(exp, run_dir, Scalars(), stop, None if resume is None else TrainState.resume(resume["train_state"]))


def at_batch(exp, number, action):
    """Run `action(x)` instead of the identity on the `number`-th training batch (counting from 1)."""
    calls = []

    def training_batch(x):
        calls.append(1)
        return action(x) if len(calls) == number else x

    exp.data.training_batch = training_batch


def test_graceful_stop_mid_epoch_then_resume_continues_exactly(tmp_path):
    cfg, exp = experiment()
    reference = train(cfg, exp, tmp_path / "uninterrupted")
    expected = exp.model.state_dict()

    cfg, exp = experiment()
    at_batch(exp, 7, lambda x: (os.kill(os.getpid(), signal.SIGINT), x)[1])  # epoch 2, step 2
    with pytest.raises(TrainingStopped, match=r"SIGINT received; stopped at epoch 2, step 2/5") as stopped:
        train(cfg, exp, tmp_path / "run")
    assert stopped.value.exit_code == 130
    payload = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert payload["epoch"] == 1 and payload["train_state"]["step"] == 2

    cfg, exp = experiment()  # a fresh process: new model, fresh generators
    load_model_state(exp.model, payload["model"], "last.pt")
    resumed = train(cfg, exp, tmp_path / "run", resume=payload)
    assert resumed.train == reference.train
    assert (resumed.best_epoch, resumed.best_val_loss) == (reference.best_epoch, reference.best_val_loss)
    for key, value in exp.model.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_non_finite_loss_stops_with_epoch_step_and_term_and_keeps_last_good_checkpoint(tmp_path):
    cfg, exp = experiment()
    at_batch(exp, 8, lambda x: x * float("nan"))  # epoch 2, step 3
    with pytest.raises(TrainingDiverged) as diverged:
        train(cfg, exp, tmp_path)
    message = str(diverged.value)
    assert "the loss term 'recon' became nan at epoch 2, step 3/5" in message
    assert "checkpoints/last.pt (epoch 1) is kept" in message and "trainer.lr" in message
    assert diverged.value.exit_code == 3
    assert diverged.value.metrics | {"failure": None} == {
        "status": "diverged", "failure": None, "failure_epoch": 2, "failure_step": 3, "failure_term": "recon",
        "epochs": 1, "best_epoch": 1,
    }
    last = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert last["epoch"] == 1
    assert all(torch.isfinite(value).all() for value in last["model"].values())


def test_failed_checkpoint_write_is_one_line_and_keeps_the_previous_file(tmp_path, monkeypatch):
    cfg, exp = experiment()
    path = tmp_path / "last.pt"
    save_checkpoint(path, model=exp.model, optimizer=None, epoch=1, config={}, metrics={})
    before = path.read_bytes()

    real_save = torch.save

    def disk_full(payload, handle):  # what torch raises on a full disk: its zip writer fails
        if hasattr(handle, "fileno"):
            handle.write(b"\0" * 1000)
            try:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            except OSError:
                raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1000 vs 900")
        real_save(payload, handle)  # serialized_size counting the bytes needed

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(UserError, match=r"cannot write .*last.pt \(No space left on device: it needs .*; the previous last.pt is intact"):
        save_checkpoint(path, model=exp.model, optimizer=None, epoch=2, config={}, metrics={})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_crash_in_the_middle_of_a_checkpoint_write_leaves_the_previous_one_intact(tmp_path):
    path = tmp_path / "last.pt"
    torch.save({"weights": torch.arange(5.0)}, path)
    before = path.read_bytes()
    # A process killed (SIGKILL: no cleanup at all) after writing half of the new checkpoint.
    script = textwrap.dedent(f"""
        import os, signal
        from aecli.runs.checkpoint import atomic_write
        def half_then_die(handle):
            handle.write(b"x" * 5000)
            handle.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        atomic_write({str(path)!r}, half_then_die)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert result.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    assert torch.equal(torch.load(path, weights_only=True)["weights"], torch.arange(5.0))


def test_checkpoint_of_another_architecture_is_a_user_error(tmp_path):
    _, small = experiment("model.latent_dim=2")
    _, large = experiment("model.latent_dim=3")
    with pytest.raises(UserError, match=r"does not fit the model in the config \(shape of .* \(checkpoint vs model\)\)"):
        load_model_state(large.model, small.model.state_dict(), tmp_path / "last.pt")
    with pytest.raises(UserError, match="holds no model weights"):
        load_model_state(large.model, None, tmp_path / "last.pt")
