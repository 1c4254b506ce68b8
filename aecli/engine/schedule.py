"""The learning-rate schedule and early stopping, one decision per epoch.

`trainer.scheduler`: wsd (the default: warm-up, stable, decay; trainer.lr, then a linear decay
over the last trainer.decay_fraction of the epochs, the last epoch at lr / (2 * decay epochs);
Hägele et al. 2024), none (constant), cosine (from trainer.lr down to 0 at the last epoch),
step (times trainer.gamma every trainer.step_size epochs), plateau (times trainer.gamma after
trainer.step_size epochs without a better validation loss), iwae (Burda et al. 2016's: stage i =
0, 1, ..., 7 lasts 3^i epochs at trainer.lr * 10^(-i/7), 3280 epochs in all; later epochs stay at
the last stage's rate). `trainer.warmup_epochs` first rises
linearly from lr / (warmup + 1) to lr; the schedule counts its epochs after the warm-up.
`trainer.patience`: stop after that many epochs without a better validation loss (null: never).
The state (plateau's scale and count) travels in last.pt, so a resumed run continues the same schedule.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from omegaconf import DictConfig


IWAE_STAGES = 8  # the IWAE paper's schedule: 3^0 + ... + 3^7 = 3280 epochs
AUTO_EPOCHS = 30  # trainer.epochs=null: at least this many (the default before it was null)
STILL_IMPROVING = 0.03  # the end-of-run warning: val_sse fell by more than this share over the last quarter of the epochs


def steps_per_epoch(num_train: int, batch_size: int) -> int:
    """Optimizer steps in one pass over `num_train` samples (the last batch may be short)."""
    return max(1, math.ceil(num_train / batch_size))


def settle_epochs(trainer: DictConfig, num_train: int) -> str | None:
    """trainer.epochs=null (the default): 30 epochs, or on small data as many as give
    trainer.min_steps optimizer steps, written into `trainer` (the saved config records the
    number); the start line's account of it, or None when the epochs were given. Measured:
    300 RGB 32x32 shapes with model=conv learn their colours between 500 and 1000 steps
    (docs/configuration.md, epochs)."""
    if trainer.epochs is not None:
        return None
    steps = steps_per_epoch(num_train, int(trainer.batch_size))
    wanted = math.ceil(int(trainer.min_steps) / steps)
    trainer.epochs = max(AUTO_EPOCHS, wanted)
    why = f"trainer.min_steps={trainer.min_steps} at {steps} steps per epoch" if wanted > AUTO_EPOCHS else f"at least {AUTO_EPOCHS}"
    return f"trainer.epochs={trainer.epochs} (auto: {why})"


def still_improving(val_sse: list[float], epochs: int) -> str | None:
    """The end-of-run warning when validation was still improving: val_sse fell by more than
    STILL_IMPROVING of its value over the last quarter of the epochs (at least 2), else None. A
    quarter, not less: the default schedule's decay slows the last fifth, so a run cut short
    improves little there (digits, 30 epochs: val_sse fell 0.7 % over the last 3 and 7.0 % over the
    last 8, and was 3.46 against 2.28 after 100 epochs; docs/configuration.md, epochs)."""
    last = max(2, math.ceil(len(val_sse) / 4))
    if len(val_sse) <= last or val_sse[-last - 1] <= 0:
        return None
    before, now = val_sse[-last - 1], min(val_sse[-last:])
    share = (before - now) / before
    if share <= STILL_IMPROVING:
        return None
    return (f"warning: validation was still improving: val_sse fell {share:.1%} over the last {last} epochs ({before:.4g} -> "
            f"{now:.4g}); the run may not be done: train longer with trainer.epochs=N (N > {epochs}), or resume=RUN trainer.epochs=N")


@dataclass
class Schedule:
    kind: str
    lr: float
    epochs: int
    warmup: int = 0
    step_size: int = 10
    gamma: float = 0.1
    decay_fraction: float = 0.2  # wsd: the last epochs that decay
    scale: float = 1.0  # plateau: the decays so far
    best: float = math.inf  # plateau: the best validation loss seen
    waiting: int = 0  # plateau: epochs since it improved

    @classmethod
    def from_config(cls, trainer: DictConfig, state: dict[str, Any] | None = None) -> Schedule:
        schedule = cls(trainer.scheduler, float(trainer.lr), int(trainer.epochs), int(trainer.warmup_epochs),
                       int(trainer.step_size), float(trainer.gamma), float(trainer.decay_fraction))
        for key in ("scale", "best", "waiting"):  # a resumed run's plateau state
            if state and key in state:
                setattr(schedule, key, state[key])
        return schedule

    def state(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if key in ("scale", "best", "waiting")}

    def lr_at(self, epoch: int) -> float:
        """The learning rate of `epoch` (1-based)."""
        if epoch <= self.warmup:
            return self.lr * epoch / (self.warmup + 1)
        after = epoch - self.warmup - 1  # epochs of the schedule already done
        if self.kind == "cosine":
            return self.lr * 0.5 * (1 + math.cos(math.pi * after / max(1, self.epochs - self.warmup)))
        if self.kind == "wsd":  # stable, then a linear decay over the last decay_fraction of the epochs
            decay = max(1, round(self.decay_fraction * (self.epochs - self.warmup)))
            left = self.epochs - epoch  # epochs after this one
            return self.lr if left >= decay else self.lr * (left + 0.5) / decay
        if self.kind == "step":
            return self.lr * self.gamma ** (after // self.step_size)
        if self.kind == "iwae":  # stage i covers epochs (3^i - 1) / 2 + 1 .. (3^(i+1) - 1) / 2 of the schedule
            stage = min(IWAE_STAGES - 1, int(math.log(2 * after + 1, 3) + 1e-9))
            return self.lr * 10 ** (-stage / (IWAE_STAGES - 1))
        return self.lr * self.scale  # none (scale stays 1) and plateau

    def observe(self, epoch: int, val_loss: float) -> None:
        """After `epoch`: plateau decays the rate when the validation loss stalled for step_size epochs."""
        if self.kind != "plateau" or epoch <= self.warmup:
            return
        if val_loss < self.best:
            self.best, self.waiting = val_loss, 0
            return
        self.waiting += 1
        if self.waiting >= self.step_size:
            self.scale, self.waiting = self.scale * self.gamma, 0


def early_stop_reason(patience: int | None, epoch: int, best_epoch: int) -> str | None:
    """Why training stops after `epoch` (patience epochs without a better validation loss), or None."""
    if patience is None or epoch - best_epoch < patience:
        return None
    return f"early stopping: no better validation loss in the {patience} epochs after epoch {best_epoch}"
