"""Checkpoints: plain dicts of state dicts, numbers, strings and the resolved config.

No pickled objects, so every checkpoint loads with `torch.load(path, weights_only=True)`.
Writes are atomic: a temporary file in the same folder, flushed and fsynced, then
renamed over the old one (and the folder fsynced), so a crash mid-write leaves the
previous checkpoint intact.
A write that fails (a full disk) is a one-line error that says so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from aecli.errors import UserError
from aecli.runs.store import atomic_write
from aecli.runs.write_failures import serialized_size, write_failures_as_user_errors

FORMAT = "aecli-checkpoint"
VERSION = 1


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    epoch: int,
    config: dict[str, Any],
    metrics: dict[str, float],
    train_state: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically; `train_state` (last.pt) is what resume needs beyond the weights."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": int(epoch),
        "config": config,
        "metrics": {key: float(value) for key, value in metrics.items()},
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "train_state": train_state,
    }
    run_dir = Path(path).absolute().parent.parent
    fix = f"free space (or fix the folder), then continue with aecli train resume={run_dir}"
    # torch.save raises a RuntimeError, not an OSError, when the disk fills (aecli.runs.write_failures).
    with write_failures_as_user_errors(path, fix, needed_bytes=lambda: serialized_size(payload)):
        atomic_write(path, lambda handle: torch.save(payload, handle))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and check an aecli checkpoint (weights_only=True: nothing is unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist; point at a run's checkpoints/best.pt or last.pt")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many types for a damaged or foreign file
        raise UserError(f"{path} is not a readable checkpoint ({type(error).__name__}); it may be truncated or foreign")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{path} is not an aecli checkpoint")
    if payload.get("version", 0) > VERSION:
        raise UserError(f"{path} was written by a newer aecli (format version {payload['version']}); upgrade aecli")
    return payload


def load_model_state(model: torch.nn.Module, state: Any, path: str | os.PathLike) -> None:
    """Load a checkpoint's weights into `model`; a UserError naming the mismatch when the
    checkpoint was written for another architecture."""
    if not isinstance(state, dict):
        raise UserError(f"{path} holds no model weights; it was not written by aecli train")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [
        f"{key} {tuple(state[key].shape)} vs {tuple(expected[key].shape)}"
        for key in expected
        if key in state and getattr(state[key], "shape", None) != expected[key].shape
    ]
    problems = (
        ([f"missing {', '.join(missing[:3])}"] if missing else [])
        + ([f"unexpected {', '.join(unexpected[:3])}"] if unexpected else [])
        + ([f"shape of {', '.join(mismatched[:3])} (checkpoint vs model)"] if mismatched else [])
    )
    if problems:
        raise UserError(
            f"{path} does not fit the model in the config ({'; '.join(problems)}); "
            f"it was written for another architecture: restore the run's .hydra/config.yaml"
        )
    model.load_state_dict(state)
