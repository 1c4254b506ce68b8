"""Checkpoints: writes that fail or crash half-way keep the previous file; weights of
another architecture are a clear error."""

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

from aecli.build import build_experiment
from aecli.checkpoint import load_model_state, save_checkpoint
from aecli.errors import UserError

SMALL = ["dataset.num_samples=200", "trainer.batch_size=32", "trainer.epochs=3", "trainer.progress=false",
         "regularizer=denoising"]


def experiment(*overrides):
    with initialize_config_module("aecli.configs", version_base="1.3"):
        cfg = compose("train", overrides=[*SMALL, *overrides])
    torch.manual_seed(cfg.seed)
    return cfg, build_experiment(cfg, torch.device("cpu"))


def test_failed_checkpoint_write_is_one_line_and_keeps_the_previous_file(tmp_path, monkeypatch):
    cfg, exp = experiment()
    path = tmp_path / "last.pt"
    save_checkpoint(path, model=exp.model, optimizer=None, epoch=1, config={}, metrics={})
    before = path.read_bytes()

    def disk_full(payload, handle):
        handle.write(b"\0" * 1000)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(UserError, match=r"cannot write .*last.pt \(No space left on device\); the previous checkpoint is intact"):
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
        from aecli.checkpoint import atomic_write
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
