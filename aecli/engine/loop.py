"""The training loop: forward, loss, backward, step, log.

The whole dataset sits on the training device (or, when it does not fit, in host memory)
and is batched by index; uint8 samples become float batch by batch (aecli.data.base.Split). Loss terms
are accumulated on the device and read back once per epoch, so the hot loop never
waits on a host sync.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from aecli.data import Dataset
from aecli.engine.batch_norm import check_last_batch, recompute_batch_norm
from aecli.engine.guards import FiniteGuard, GracefulStop
from aecli.engine.optim import StepLoss, build_optimizer, make_step_loss
from aecli.engine.schedule import Schedule, early_stop_reason
from aecli.engine.state import FitResult, ProgressBar, check_finite, check_finite_validation, stopped
from aecli.engine.steps import evaluate_split
from aecli.likelihoods import Likelihood
from aecli.models import Autoencoder
from aecli.regularizers import Regularizer
from aecli.runs.checkpoint import save_checkpoint

log = logging.getLogger("aecli")


@dataclass
class Loop:
    """The fixed parts of one `fit`: what trains, on what, and where it writes."""

    model: Autoencoder
    likelihood: Likelihood
    regularizers: list[Regularizer]
    data: Dataset
    trainer: DictConfig
    run_dir: Path
    writer: Any
    optimizer: torch.optim.Optimizer
    step_loss: StepLoss
    config: dict[str, Any]  # the resolved config, stored in every checkpoint
    stop: GracefulStop
    progress: ProgressBar
    schedule: Schedule
    guard: FiniteGuard = field(default_factory=FiniteGuard)
    seconds_before: float = 0.0  # training time of earlier sessions of the run
    started: float = field(default_factory=time.perf_counter)

    @property
    def num_batches(self) -> int:
        return math.ceil(len(self.data.train) / int(self.trainer.batch_size))

    def elapsed(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    def save(self, name: str, epoch: int, metrics: dict[str, float], result: FitResult | None = None) -> None:
        save_checkpoint(self.run_dir / "checkpoints" / name, model=self.model, optimizer=self.optimizer, epoch=epoch,
                        config=self.config, metrics=metrics, train_state=None if result is None else result.train_state())


def fit(
    model: Autoencoder,
    likelihood: Likelihood,
    regularizers: list[Regularizer],
    data: Dataset,
    cfg: DictConfig,
    run_dir: Path,
    writer: Any,
    on_epoch_end: Callable[[int], None] | None = None,
    resume: dict[str, Any] | None = None,
    stop: GracefulStop | None = None,
) -> FitResult:
    """Train `model` on `data.train` for `cfg.trainer.epochs`, validating every epoch.

    Writes checkpoints/last.pt every epoch and checkpoints/best.pt whenever the
    validation loss improves; logs one line per epoch and the scalars to `writer`.
    resume: a last.pt payload to continue from (the caller has loaded its weights).
    stop: once it is requested (SIGINT/SIGTERM), the current step finishes, last.pt is
    written and TrainingStopped is raised. A loss that is not finite raises
    TrainingDiverged before anything is saved, so the last good checkpoint stays.
    """
    trainer = cfg.trainer
    check_last_batch(model, len(data.train), int(trainer.batch_size))
    optimizer = build_optimizer(model, trainer)
    result = FitResult() if resume is None else FitResult.resume(resume, optimizer, trainer.lr)
    loop = Loop(
        model, likelihood, regularizers, data, trainer, run_dir, writer, optimizer,
        make_step_loss(model, likelihood, regularizers, trainer), OmegaConf.to_container(cfg, resolve=True),
        stop or GracefulStop(), ProgressBar(trainer.progress is True or (trainer.progress == "auto" and sys.stderr.isatty())),
        Schedule.from_config(trainer, result.schedule), seconds_before=result.seconds,
    )
    for epoch in range(result.epochs_completed + 1, trainer.epochs + 1):
        start = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = loop.schedule.lr_at(epoch)
        train = train_epoch(loop, epoch, result)
        recompute_batch_norm(model, data, regularizers, int(trainer.batch_size), trainer.bn_stats_samples, cfg.seed)
        val = evaluate_split(model, likelihood, regularizers, data.val, trainer.eval_batch_size, cfg.seed)
        check_finite_validation(val, epoch, result, trainer.lr)
        end_epoch(loop, epoch, result, train, val, time.perf_counter() - start)
        if on_epoch_end is not None:
            on_epoch_end(epoch)
        writer.flush()  # TensorBoard holds this epoch before last.pt says it is done
        loop.schedule.observe(epoch, val["total"])
        result.schedule = loop.schedule.state()
        result.stop_reason = early_stop_reason(trainer.patience, epoch, result.best_epoch)
        save_epoch(loop, epoch, result, train, val)
        if result.stop_reason is not None:
            log.info("%s; best epoch %d kept", result.stop_reason, result.best_epoch)
            break
        if loop.stop.requested and epoch < trainer.epochs:
            raise stopped(loop.stop, run_dir, f"the end of epoch {epoch}", result)
    return result


def train_epoch(loop: Loop, epoch: int, result: FitResult) -> dict[str, float]:
    """One pass over the training split (or the rest of one a graceful stop cut short); the
    epoch's mean loss terms. A stop request ends it after the current step, saving last.pt."""
    model, data, batch_size = loop.model, loop.data, int(loop.trainer.batch_size)
    num_train, num_batches = len(data.train), loop.num_batches
    model.train()
    for regularizer in loop.regularizers:
        regularizer.start_epoch(epoch)
    if result.order is None:  # a fresh epoch, else the rest of the one a graceful stop cut short
        result.order, result.sums, result.step = torch.randperm(num_train, device=data.train.compute_device), {}, 0
    names, running = [], None
    for step, begin in enumerate(range(result.step * batch_size, num_train, batch_size), result.step + 1):
        index = result.order[begin : begin + batch_size]
        terms = loop.step_loss(data.training_batch(data.train.batch(index)))
        loop.optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        if loop.trainer.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(loop.trainer.grad_clip))
        loop.optimizer.step()
        model.after_step()
        # Every term in one vector: a few device ops per step whatever the number of terms.
        values = torch.stack([value.detach().float() for value in terms.values()])
        if running is None:
            names, running = list(terms), _stacked(result.sums, terms, values)
        running.add_(values, alpha=len(index))
        loop.guard.observe(step, names, values)
        loop.progress.update(f"epoch {epoch}/{loop.trainer.epochs}", step, num_batches)
        if loop.stop.requested and step < num_batches:
            _stop_mid_epoch(loop, epoch, step, result, dict(zip(names, running.unbind())))
    loop.progress.clear()
    check_finite(loop.guard, epoch, num_batches, result, loop.trainer.lr)
    return {key: value / num_train for key, value in zip(names, running.tolist())}  # the epoch's one host sync


def _stop_mid_epoch(loop: Loop, epoch: int, step: int, result: FitResult, sums: dict[str, Tensor]) -> None:
    loop.progress.clear()
    check_finite(loop.guard, epoch, loop.num_batches, result, loop.trainer.lr)
    result.sums, result.step, result.seconds = sums, step, loop.elapsed()
    loop.save("last.pt", epoch - 1, {}, result)
    raise stopped(loop.stop, loop.run_dir, f"epoch {epoch}, step {step}/{loop.num_batches}", result)


def end_epoch(loop: Loop, epoch: int, result: FitResult, train: dict[str, float], val: dict[str, float], seconds: float) -> None:
    """Record the finished epoch in `result`, TensorBoard and the log."""
    improved = val["total"] < result.best_val_loss
    if improved:
        result.best_val_loss, result.best_epoch = val["total"], epoch
    result.epochs_completed, result.train = epoch, train
    result.order, result.sums, result.step = None, {}, 0
    result.seconds = loop.elapsed()
    for split, terms in (("train", train), ("val", val)):
        for key, value in terms.items():
            loop.writer.add_scalar(f"{split}/{key}", value, epoch)
    loop.writer.add_scalar("val/best_total", result.best_val_loss, epoch)  # a curve whose last point is best.pt's loss
    loop.writer.add_scalar("time/epoch_seconds", seconds, epoch)
    loop.writer.add_scalar("optim/lr", loop.optimizer.param_groups[0]["lr"], epoch)
    width = len(str(loop.trainer.epochs))
    log.info(
        "epoch %*d/%d  train %.4f  val %.4f  val_sse %.4f  %.2fs%s",
        width, epoch, loop.trainer.epochs, train["total"], val["total"], val["recon_sse"], seconds,
        "  (best)" if improved else "",
    )


def save_epoch(loop: Loop, epoch: int, result: FitResult, train: dict[str, float], val: dict[str, float]) -> None:
    """best.pt when the epoch improved the validation loss, last.pt always (with the training state)."""
    metrics = {f"train_{k}": v for k, v in train.items()} | {f"val_{k}": v for k, v in val.items()}
    if result.best_epoch == epoch:
        loop.save("best.pt", epoch, metrics)
    loop.save("last.pt", epoch, metrics, result)


def _stacked(sums: dict[str, Tensor], terms: dict[str, Tensor], like: Tensor) -> Tensor:
    """The running sums of `terms` as one vector, starting from `sums` (those a graceful stop
    saved in the middle of an epoch) or from zero."""
    return torch.stack([torch.as_tensor(sums.get(key, 0.0), dtype=like.dtype, device=like.device) for key in terms])
