"""Where training stands, beside the loop: `TrainState` (what `fit` returns and last.pt keeps, so
that a resumed run carries on exactly as if it had never stopped), the current epoch's
`EpochPosition` (its batch order and the batches done, kept after a graceful stop mid-epoch), the
epoch's `RunningTerms`, and the errors the loop raises when it stops or diverges."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from aecli.engine.guards import FiniteGuard, GracefulStop, non_finite
from aecli.engine.rng import capture_rng, restore_rng
from aecli.errors import TrainingDiverged, TrainingStopped


@dataclass
class EpochPosition:
    """Where the current epoch stands: its batch order (None between epochs), the batches done and,
    after a graceful stop mid-epoch, the running sums of the loss terms."""

    order: Tensor | None = None
    step: int = 0
    sums: dict[str, Tensor] = field(default_factory=dict)

    def draw_order(self, num_train: int, device: torch.device) -> None:
        """The epoch's batch order, drawn from torch's generator unless a graceful stop kept one."""
        if self.order is None:
            self.order, self.step, self.sums = torch.randperm(num_train, device=device), 0, {}

    def batches(self, num_train: int, batch_size: int, device: torch.device) -> Iterator[tuple[int, Tensor]]:
        """(step, sample indices) for the rest of the epoch: a fresh random order (torch's
        generator), or the rest of the one a graceful stop cut short; `step` counts from 1."""
        self.draw_order(num_train, device)
        for begin in range(self.step * batch_size, num_train, batch_size):
            self.step += 1
            yield self.step, self.order[begin : begin + batch_size]


class RunningTerms:
    """An epoch's loss terms summed over its samples, on the device as one vector: a few device
    ops per step whatever the number of terms, and one host sync per epoch."""

    def __init__(self, saved: dict[str, Tensor]):
        self.saved = saved  # the sums a graceful stop kept in the middle of the epoch
        self.names: list[str] = []
        self.sums: Tensor | None = None

    def add(self, terms: dict[str, Tensor], count: int) -> tuple[list[str], Tensor]:
        """Add a batch of `count` samples; returns the names and the batch's values (for the guard)."""
        values = torch.stack([value.detach().float() for value in terms.values()])
        if self.sums is None:
            self.names = list(terms)
            self.sums = torch.stack([torch.as_tensor(self.saved.get(key, 0.0), dtype=values.dtype, device=values.device)
                                     for key in terms])
        self.sums.add_(values, alpha=count)
        return self.names, values

    def as_dict(self) -> dict[str, Tensor]:
        return {} if self.sums is None else dict(zip(self.names, self.sums.unbind()))

    def summed_over_ranks(self) -> dict[str, Tensor]:
        """The sums of every rank of a distributed run (in place), as `as_dict` gives them."""
        from aecli.engine.distributed import sum_over_ranks

        if self.sums is not None:
            sum_over_ranks(self.sums)
        return self.as_dict()

    def means(self, count: int) -> dict[str, float]:
        return {key: value / count for key, value in zip(self.names, self.sums.tolist())}


@dataclass
class TrainState:
    """Where training stands after `fit` (or at a stop), and what last.pt keeps with every random
    generator's state."""

    epochs_completed: int = 0
    best_epoch: int = 0
    best_val_loss: float = math.inf
    train: dict[str, float] = field(default_factory=dict)  # the last completed epoch's terms
    seconds: float = 0.0  # training time, over every session of the run
    schedule: dict[str, Any] = field(default_factory=dict)  # the learning-rate schedule's state (aecli.engine.schedule)
    stop_reason: str | None = None  # set when early stopping ended training
    position: EpochPosition = field(default_factory=EpochPosition)
    made_by: dict[str, Any] = field(default_factory=dict)  # the run's config hashes (aecli.runs.provenance), across sessions
    val_sse: list[float] = field(default_factory=list)  # every epoch's validation recon_sse (the end-of-run warning reads it)

    def finish_epoch(self, epoch: int, train: dict[str, float], val: dict[str, float], seconds: float) -> bool:
        """Record a completed epoch; whether it improved the best validation loss."""
        improved = val["total"] < self.best_val_loss
        if improved:
            self.best_val_loss, self.best_epoch = val["total"], epoch
        self.epochs_completed, self.train, self.seconds = epoch, train, seconds
        self.val_sse.append(float(val["recon_sse"]))
        self.position = EpochPosition()
        return improved

    def to_checkpoint(self) -> dict[str, Any]:
        """last.pt's `train_state`: plain values and tensors, and every generator's state."""
        position = self.position
        return {
            "epochs_completed": self.epochs_completed, "best_epoch": self.best_epoch, "best_val_loss": self.best_val_loss,
            "train": self.train, "seconds": self.seconds, "order": position.order, "step": position.step,
            "sums": position.sums, "schedule": self.schedule, "stop_reason": self.stop_reason, "rng": capture_rng(),
            "made_by": self.made_by, "val_sse": self.val_sse,
        }

    @classmethod
    def resume(cls, state: dict[str, Any]) -> TrainState:
        """Continue from a last.pt `train_state`, restoring every generator; checkpoints from before
        a field existed resume with its default (no schedule state, no early stop)."""
        restore_rng(state["rng"])
        position = EpochPosition(state.get("order"), state.get("step", 0), state.get("sums") or {})
        kept = ("epochs_completed", "best_epoch", "best_val_loss", "train", "seconds", "schedule", "stop_reason", "made_by", "val_sse")
        return cls(**{key: state[key] for key in kept if key in state}, position=position)


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


def check_finite(guard: FiniteGuard, epoch: int, num_batches: int, state: TrainState, lr: float) -> None:
    """Raise TrainingDiverged when a loss term of the epoch's batches stopped being finite."""
    from aecli.engine.distributed import any_rank

    failure = guard.first_failure()
    guard.reset()
    somewhere = any_rank(failure is not None)  # every rank asks, so all stop together
    if failure is not None:
        step, term, value = failure
        what = f"the loss term {term!r} became {value} at epoch {epoch}, step {step}/{num_batches}"
        raise diverged(what, epoch, step, term, state, lr)
    if somewhere:
        raise diverged(f"a loss term of another rank stopped being finite in epoch {epoch}", epoch, None, "total", state, lr)


def check_finite_validation(val: dict[str, float], epoch: int, state: TrainState, lr: float) -> None:
    failure = non_finite(val)
    if failure is not None:
        term, value = failure
        raise diverged(f"the validation loss term {term!r} is {value} after epoch {epoch}", epoch, None, term, state, lr)


def diverged(what: str, epoch: int, step: int | None, term: str, state: TrainState, lr: float) -> TrainingDiverged:
    done = state.epochs_completed
    if done:
        advice = f"checkpoints/last.pt (epoch {done}) is kept as the last good state; resume it with a lower trainer.lr (now {lr})"
    else:
        advice = f"no checkpoint was written; train again with a lower trainer.lr (now {lr})"
    metrics = {"status": "diverged", "failure": f"training diverged: {what}", "failure_epoch": epoch,
               "failure_step": step, "failure_term": term, "epochs": done, "best_epoch": state.best_epoch}
    return TrainingDiverged(f"training diverged: {what}; {advice}", metrics)


def stopped(stop: GracefulStop, run_dir: Path, where: str, state: TrainState) -> TrainingStopped:
    message = f"{stop.name} received; stopped at {where} and saved checkpoints/last.pt; continue with: aecli train resume={run_dir}"
    return TrainingStopped(message, stop.signum or 0, {"status": "stopped", "epochs": state.epochs_completed})
