"""Where training stands (`FitResult`, saved in last.pt for resume) and how the loop reports a
stop or a divergence."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from aecli.engine.guards import FiniteGuard, GracefulStop, non_finite
from aecli.engine.rng import capture_rng, restore_rng
from aecli.errors import TrainingDiverged, TrainingStopped


@dataclass
class FitResult:
    """Where training stands. `fit` returns it, and last.pt keeps it (with every random
    generator's state) so that `resume` carries on exactly as if training had never stopped."""

    epochs_completed: int = 0
    best_epoch: int = 0
    best_val_loss: float = math.inf
    train: dict[str, float] = field(default_factory=dict)  # the last completed epoch's terms
    seconds: float = 0.0  # training time, over every session of the run
    # After a graceful stop in the middle of an epoch: that epoch's batch order, the
    # batches done and the running loss sums.
    order: Tensor | None = None
    step: int = 0
    sums: dict[str, Tensor] = field(default_factory=dict)
    schedule: dict[str, Any] = field(default_factory=dict)  # the learning-rate schedule's state (aecli.engine.schedule)
    stop_reason: str | None = None  # set when early stopping ended training

    def train_state(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__} | {"rng": capture_rng()}

    @classmethod
    def resume(cls, payload: dict[str, Any], optimizer: torch.optim.Optimizer, lr: float) -> FitResult:
        """Continue from a last.pt `payload` (its weights already in the model): optimizer,
        generators and position; `lr` replaces the saved learning rate (say, lower after a divergence)."""
        optimizer.load_state_dict(payload["optimizer"])
        for group in optimizer.param_groups:
            group["lr"] = lr
        state = payload["train_state"]
        restore_rng(state["rng"])
        # Checkpoints from before a field existed resume with its default (no schedule state, no early stop).
        return cls(**{key: state[key] for key in cls.__dataclass_fields__ if key in state})


class ProgressBar:
    """A one-line batch counter on stderr, redrawn at most ten times a second."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._last = 0.0

    def update(self, label: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self._last < 0.1 and done < total):
            return
        self._last = now
        width = 30
        filled = width * done // total
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def check_finite(guard: FiniteGuard, epoch: int, num_batches: int, result: FitResult, lr: float) -> None:
    """Raise TrainingDiverged when a loss term of the epoch's batches stopped being finite."""
    failure = guard.first_failure()
    guard.reset()
    if failure is not None:
        step, term, value = failure
        what = f"the loss term {term!r} became {value} at epoch {epoch}, step {step}/{num_batches}"
        raise diverged(what, epoch, step, term, result, lr)


def check_finite_validation(val: dict[str, float], epoch: int, result: FitResult, lr: float) -> None:
    failure = non_finite(val)
    if failure is not None:
        term, value = failure
        raise diverged(f"the validation loss term {term!r} is {value} after epoch {epoch}", epoch, None, term, result, lr)


def diverged(what: str, epoch: int, step: int | None, term: str, result: FitResult, lr: float) -> TrainingDiverged:
    done = result.epochs_completed
    if done:
        advice = f"checkpoints/last.pt (epoch {done}) is kept as the last good state; resume it with a lower trainer.lr (now {lr})"
    else:
        advice = f"no checkpoint was written; train again with a lower trainer.lr (now {lr})"
    metrics = {"status": "diverged", "failure": f"training diverged: {what}", "failure_epoch": epoch,
               "failure_step": step, "failure_term": term, "epochs": done, "best_epoch": result.best_epoch}
    return TrainingDiverged(f"training diverged: {what}; {advice}", metrics)


def stopped(stop: GracefulStop, run_dir: Path, where: str, result: FitResult) -> TrainingStopped:
    message = f"{stop.name} received; stopped at {where} and saved checkpoints/last.pt; continue with: aecli train resume={run_dir}"
    return TrainingStopped(message, stop.signum or 0, {"status": "stopped", "epochs": result.epochs_completed})
