"""The training loop: forward, loss, backward, step, log.

The whole dataset sits on the training device (or, when it does not fit, in host memory) and is
batched by index; uint8 samples become float batch by batch (aecli.data.base.Split). Loss terms are
summed on the device and read back once per epoch, so the hot loop never waits on a host sync.
Where training stands (for resume) lives beside the loop in aecli.engine.state; the NaN guard and
the stop signal in aecli.engine.guards.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
from omegaconf import OmegaConf

from aecli.engine.batch_norm import check_last_batch, recompute_batch_norm
from aecli.engine.experiment import Experiment
from aecli.engine.guards import FiniteGuard, GracefulStop
from aecli.engine.optim import StepLoss, make_step_loss
from aecli.engine.schedule import Schedule, early_stop_reason
from aecli.engine.state import (
    EpochPosition, ProgressBar, RunningTerms, TrainState, check_finite, check_finite_validation, stopped,
)
from aecli.engine.steps import evaluate_split
from aecli.runs.checkpoint import load_checkpoint, save_checkpoint

log = logging.getLogger("aecli")


def fit(
    experiment: Experiment,
    run_dir: Path,
    writer: Any,
    stop: GracefulStop,
    state: TrainState | None = None,
    on_epoch_end: Callable[[int], None] | None = None,
) -> TrainState:
    """Train `experiment.model` on its training split up to `cfg.trainer.epochs`, validating every
    epoch; returns where training stands.

    Writes checkpoints/last.pt every epoch and checkpoints/best.pt whenever the validation loss
    improves; logs one line per epoch and the scalars to `writer`. `state`: where a resumed run
    stands (its weights and optimizer already restored). Once `stop` is requested (SIGINT/SIGTERM)
    the current step finishes, last.pt is written and TrainingStopped is raised. A loss that is not
    finite raises TrainingDiverged before anything is saved, so the last good checkpoint stays.
    """
    exp, trainer = experiment, experiment.cfg.trainer
    state = state or TrainState()
    check_last_batch(exp.model, len(exp.data.train), int(trainer.batch_size))
    step_loss = make_step_loss(exp.model, exp.likelihood, exp.regularizers, trainer)
    schedule = Schedule.from_config(trainer, state.schedule)
    guard, progress = FiniteGuard(), ProgressBar(trainer.progress is True or (trainer.progress == "auto" and sys.stderr.isatty()))
    num_batches = math.ceil(len(exp.data.train) / int(trainer.batch_size))
    seconds_before, started = state.seconds, time.perf_counter()
    for epoch in range(state.epochs_completed + 1, trainer.epochs + 1):
        epoch_started = time.perf_counter()
        for group in exp.optimizer.param_groups:
            group["lr"] = schedule.lr_at(epoch)
        train = train_epoch(exp, step_loss, state.position, epoch, stop, guard, progress)
        check_finite(guard, epoch, num_batches, state, trainer.lr)
        if train is None:  # a graceful stop in the middle of the epoch: last.pt keeps the position
            state.seconds = seconds_before + time.perf_counter() - started
            save(exp, run_dir / "checkpoints" / "last.pt", epoch - 1, {}, state)
            raise stopped(stop, run_dir, f"epoch {epoch}, step {state.position.step}/{num_batches}", state)
        recompute_batch_norm(exp.model, exp.data, exp.regularizers, int(trainer.batch_size), trainer.bn_stats_samples, exp.seed)
        val = evaluate_split(exp.model, exp.likelihood, exp.regularizers, exp.data.val, exp.eval_batch_size, exp.seed)
        check_finite_validation(val, epoch, state, trainer.lr)
        improved = state.finish_epoch(epoch, train, val, seconds_before + time.perf_counter() - started)
        log_epoch(writer, exp, epoch, train, val, state, time.perf_counter() - epoch_started, improved)
        if on_epoch_end is not None:
            on_epoch_end(epoch)
        writer.flush()  # TensorBoard holds this epoch before last.pt says it is done
        schedule.observe(epoch, val["total"])
        state.schedule = schedule.state()
        state.stop_reason = early_stop_reason(trainer.patience, epoch, state.best_epoch)
        metrics = {f"train_{k}": v for k, v in train.items()} | {f"val_{k}": v for k, v in val.items()}
        if improved:
            save(exp, run_dir / "checkpoints" / "best.pt", epoch, metrics)
        save(exp, run_dir / "checkpoints" / "last.pt", epoch, metrics, state)
        if state.stop_reason is not None:
            log.info("%s; best epoch %d kept", state.stop_reason, state.best_epoch)
            break
        if stop.requested and epoch < trainer.epochs:
            raise stopped(stop, run_dir, f"the end of epoch {epoch}", state)
    return state


def save(exp: Experiment, path: Path, epoch: int, metrics: dict[str, float], state: TrainState | None = None) -> None:
    """A checkpoint of the experiment after `epoch`: weights, optimizer, config, figures, and with
    `state` where training stands (last.pt, what resume needs)."""
    save_checkpoint(path, model=exp.model, optimizer=exp.optimizer, epoch=epoch, config=OmegaConf.to_container(exp.cfg, resolve=True),
                    metrics=metrics, train_state=None if state is None else state.to_checkpoint())


def test(experiment: Experiment, best: Path, state: TrainState) -> dict[str, Any]:
    """After `fit`: the best checkpoint's weights back in the model, and the run's figures for
    metrics.json (best.pt's losses on val and test, the last epoch's on train, and how it ran)."""
    exp = experiment
    exp.restore(load_checkpoint(best, map_location=exp.device), best)
    val = evaluate_split(exp.model, exp.likelihood, exp.regularizers, exp.data.val, exp.eval_batch_size, exp.seed)  # best.pt's objective
    test = evaluate_split(exp.model, exp.likelihood, exp.regularizers, exp.data.test, exp.eval_batch_size)
    return {
        "train_loss": state.train["total"], "val_loss": val["total"], "test_loss": test["total"],
        **{f"train_{k}": v for k, v in state.train.items() if k != "total"},
        **{f"val_{k}": v for k, v in val.items() if k != "total"},
        **{f"test_{k}": v for k, v in test.items() if k != "total"},
        "best_epoch": state.best_epoch, "epochs": state.epochs_completed,
        "num_parameters": sum(p.numel() for p in exp.model.parameters()), "train_seconds": state.seconds,
        "device": str(exp.device), "torch_threads": torch.get_num_threads(), "status": "completed",
        "stop_reason": state.stop_reason or f"trained all {exp.cfg.trainer.epochs} epochs",
    }


def train_epoch(
    exp: Experiment, step_loss: StepLoss, position: EpochPosition, epoch: int, stop: GracefulStop,
    guard: FiniteGuard, progress: ProgressBar,
) -> dict[str, float] | None:
    """One pass over the training split (or the rest of one a graceful stop cut short): the
    epoch's mean loss terms, or None when a stop request ended it early (`position` then says
    where, with the running sums)."""
    model, data, optimizer, trainer = exp.model, exp.data, exp.optimizer, exp.cfg.trainer
    num_batches = math.ceil(len(data.train) / int(trainer.batch_size))
    model.train()
    for regularizer in exp.regularizers:
        regularizer.start_epoch(epoch)
    running = RunningTerms(position.sums)
    for step, index in position.batches(len(data.train), int(trainer.batch_size), data.train.compute_device):
        labels = data.train.batch_labels(index) if model.conditional else None
        terms = step_loss(data.training_batch(data.train.batch(index)), labels)  # forward and loss
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        if trainer.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(trainer.grad_clip))
        optimizer.step()
        model.after_step()
        guard.observe(step, *running.add(terms, len(index)))  # logged on the device, read once per epoch
        progress.update(f"epoch {epoch}/{trainer.epochs}", step, num_batches)
        if stop.requested and step < num_batches:
            progress.clear()
            position.sums = running.as_dict()
            return None
    progress.clear()
    return running.means(len(data.train))


def log_epoch(
    writer: Any, exp: Experiment, epoch: int, train: dict[str, float], val: dict[str, float], state: TrainState,
    seconds: float, improved: bool,
) -> None:
    """The finished epoch in TensorBoard and as one line of the log."""
    for split, terms in (("train", train), ("val", val)):
        for key, value in terms.items():
            writer.add_scalar(f"{split}/{key}", value, epoch)
    writer.add_scalar("val/best_total", state.best_val_loss, epoch)  # a curve whose last point is best.pt's loss
    writer.add_scalar("time/epoch_seconds", seconds, epoch)
    writer.add_scalar("optim/lr", exp.optimizer.param_groups[0]["lr"], epoch)
    epochs = exp.cfg.trainer.epochs
    shown = "".join(f"  val_{key} {val[key]:.4g}" for r in exp.regularizers for key in r.on_screen if key in val)
    log.info(
        "epoch %*d/%d  train %.4f  val %.4f  val_sse %.4f%s  %.2fs%s",
        len(str(epochs)), epoch, epochs, train["total"], val["total"], val["recon_sse"], shown, seconds,
        "  (best)" if improved else "",
    )
