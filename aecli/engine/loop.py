"""The training loop: forward, loss, backward, step, log.

The whole dataset sits on the training device (or, when it does not fit, in host memory) and is
batched by index; uint8 samples become float batch by batch (aecli.data.base.Split). Loss terms are
summed on the device and read back once per epoch, so the hot loop never waits on a host sync.
Where training stands (for resume) lives beside the loop in aecli.engine.state; the NaN guard and
the stop signal in aecli.engine.guards.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor
from omegaconf import OmegaConf

from aecli.data.prefetch import Prefetcher
from aecli.engine import curves
from aecli.engine.batch_norm import check_last_batch, recompute_batch_norm
from aecli.engine.distributed import any_rank, barrier, own_noise
from aecli.engine.experiment import Experiment
from aecli.engine.guards import FiniteGuard, GracefulStop
from aecli.engine.optim import StepLoss, make_step_loss
from aecli.engine.schedule import Schedule, early_stop_reason, steps_per_epoch
from aecli.engine.state import (
    EpochPosition, ProgressBar, RunningTerms, TrainState, check_finite, check_finite_validation, stopped,
)
from aecli.engine.steps import evaluate_split
from aecli.runs.checkpoint import load_checkpoint, save_checkpoint

log = logging.getLogger("aecli")


def fit(experiment: Experiment, run_dir: Path, writer: Any, stop: GracefulStop, state: TrainState | None = None,
        on_epoch_end: Callable[[int], None] | None = None) -> TrainState:
    """Train `experiment.model` on its training split up to `cfg.trainer.epochs`, validating every
    epoch; returns where training stands.

    Writes checkpoints/last.pt every epoch and checkpoints/best.pt whenever the validation loss
    improves; logs one line per epoch and the scalars to `writer`. `state`: where a resumed run
    stands (its weights and optimizer already restored). Once `stop` is requested (SIGINT/SIGTERM)
    the current step finishes, last.pt is written and TrainingStopped is raised. A loss that is not
    finite raises TrainingDiverged before anything is saved, so the last good checkpoint stays. In a
    distributed run every rank trains its slices and rank 0 writes and logs (aecli.engine.distributed).
    """
    exp, trainer, world = experiment, experiment.cfg.trainer, experiment.world
    state = state or TrainState()
    check_last_batch(exp.model, len(exp.data.train), int(trainer.batch_size), world.size)
    step_loss = make_step_loss(exp.model, exp.likelihood, exp.regularizers, trainer, exp.forward_with)
    schedule = Schedule.from_config(trainer, state.schedule)
    shown = world.main and (trainer.progress is True or (trainer.progress == "auto" and sys.stderr.isatty()))
    guard, progress = FiniteGuard(), ProgressBar(shown)
    num_batches = steps_per_epoch(len(exp.data.train), int(trainer.batch_size))
    seconds_before, started = state.seconds, time.perf_counter()
    for epoch in range(state.epochs_completed + 1, trainer.epochs + 1):
        epoch_started = time.perf_counter()
        for group in exp.optimizer.param_groups:
            group["lr"] = schedule.lr_at(epoch)
        train = train_epoch(exp, step_loss, state.position, epoch, stop, guard, progress)
        check_finite(guard, epoch, num_batches, state, trainer.lr)
        if train is None:  # a graceful stop in the middle of the epoch: last.pt keeps the position
            state.seconds = seconds_before + time.perf_counter() - started
            if world.main:
                save(exp, run_dir / "checkpoints" / "last.pt", epoch - 1, {}, state)
            raise stopped(stop, run_dir, f"epoch {epoch}, step {state.position.step}/{num_batches}", state)
        recompute_batch_norm(exp.model, exp.data, exp.regularizers, int(trainer.batch_size), trainer.bn_stats_samples, exp.seed)
        val = evaluate_split(exp.model, exp.likelihood, exp.regularizers, exp.data.val, exp.eval_batch_size, exp.seed, world)
        check_finite_validation(val, epoch, state, trainer.lr)
        improved = state.finish_epoch(epoch, train, val, seconds_before + time.perf_counter() - started)
        if world.main:
            log_epoch(writer, exp, epoch, train, val, state, time.perf_counter() - epoch_started, improved)
            if on_epoch_end is not None:
                on_epoch_end(epoch)
            writer.flush()  # TensorBoard holds this epoch before last.pt says it is done
        schedule.observe(epoch, val["total"])
        state.schedule = schedule.state()
        state.stop_reason = early_stop_reason(trainer.patience, epoch, state.best_epoch)
        if world.main:  # rank 0 writes the run's checkpoints
            metrics = {f"train_{k}": v for k, v in train.items()} | {f"val_{k}": v for k, v in val.items()}
            for name in ("best", "last") if improved else ("last",):
                save(exp, run_dir / "checkpoints" / f"{name}.pt", epoch, metrics, state if name == "last" else None)
        if state.stop_reason is not None:
            if world.main:
                log.info("%s; best epoch %d kept", state.stop_reason, state.best_epoch)
            break
        if any_rank(stop.requested) and epoch < trainer.epochs:
            raise stopped(stop, run_dir, f"the end of epoch {epoch}", state)
    barrier()  # the other ranks read best.pt next: rank 0 has written it
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
    val = evaluate_split(exp.model, exp.likelihood, exp.regularizers, exp.data.val, exp.eval_batch_size, exp.seed, exp.world)  # best.pt's objective
    test = evaluate_split(exp.model, exp.likelihood, exp.regularizers, exp.data.test, exp.eval_batch_size, world=exp.world)
    return {
        "train_loss": state.train["total"], "val_loss": val["total"], "test_loss": test["total"],
        **{f"train_{k}": v for k, v in state.train.items() if k != "total"},
        **{f"val_{k}": v for k, v in val.items() if k != "total"},
        **{f"test_{k}": v for k, v in test.items() if k != "total"},
        "best_epoch": state.best_epoch, "epochs": state.epochs_completed,
        "num_parameters": sum(p.numel() for p in exp.model.parameters()), "train_seconds": state.seconds,
        "device": str(exp.device), "torch_threads": torch.get_num_threads(), "world_size": exp.world.size, "status": "completed",
        "stop_reason": state.stop_reason or f"trained all {exp.cfg.trainer.epochs} epochs",
    }


def train_epoch(
    exp: Experiment, step_loss: StepLoss, position: EpochPosition, epoch: int, stop: GracefulStop,
    guard: FiniteGuard, progress: ProgressBar,
) -> dict[str, float] | None:
    """One pass over the training split (or the rest of one a graceful stop cut short): the
    epoch's mean loss terms, or None when a stop request ended it early (`position` then says
    where, with the running sums). In a distributed run each rank takes its slice of every batch
    (aecli.engine.distributed) and the epoch's sums are summed over the ranks."""
    model, data, trainer, world = exp.model, exp.data, exp.cfg.trainer, exp.world
    num_batches = steps_per_epoch(len(data.train), int(trainer.batch_size))
    model.train()
    for regularizer in exp.regularizers:
        regularizer.start_epoch(epoch)
    running = RunningTerms(position.sums if world.main else {})  # a stop's sums were summed over the ranks
    position.draw_order(len(data.train), data.train.compute_device)  # from the generator every rank shares
    size = int(trainer.batch_size)
    with own_noise(world, exp.seed, epoch) as seed_step, Prefetcher(data.train) as reader:
        ahead = Prefetcher.wanted(data.train)
        for step, batch in position.batches(len(data.train), size, data.train.compute_device):
            index = world.shard(batch)
            x = reader.batch(index)
            if ahead and step * size < len(data.train):  # the next batch's rows, read while this one trains
                reader.ask(world.shard(position.order[step * size : (step + 1) * size]))
            seed_step(step)
            labels = data.train.batch_labels(index) if model.conditional else None
            terms = train_step(exp, step_loss, data.training_batch(x), labels, len(index) * world.size / len(batch))
            guard.observe(step, *running.add(terms, len(index)))  # logged on the device, read once per epoch
            progress.update(f"epoch {epoch}/{trainer.epochs}", step, num_batches)
            if any_rank(stop.requested) and step < num_batches:
                progress.clear()
                position.sums = running.summed_over_ranks()
                return None
    progress.clear()
    running.summed_over_ranks()
    return running.means(len(data.train))


def train_step(exp: Experiment, step_loss: StepLoss, x: Tensor, labels: Tensor | None, share: float) -> dict[str, Tensor]:
    """Forward, loss, backward and the optimizer's step on one batch; its loss terms. `share`: this
    rank's part of the global batch (DDP averages the ranks' gradients, so each is weighed by it)."""
    model, optimizer, trainer = exp.model, exp.optimizer, exp.cfg.trainer
    terms = step_loss(x, labels)
    optimizer.zero_grad(set_to_none=True)
    (terms["total"] * share if exp.world.distributed else terms["total"]).backward()
    if trainer.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), float(trainer.grad_clip))
    optimizer.step()
    model.after_step()
    return terms


def log_epoch(
    writer: Any, exp: Experiment, epoch: int, train: dict[str, float], val: dict[str, float], state: TrainState,
    seconds: float, improved: bool,
) -> None:
    """The finished epoch in TensorBoard and as one line of the log."""
    for split, terms in (("train", train), ("val", val)):
        for key, value in terms.items():
            writer.add_scalar(curves.curve_tag(key, split), value, epoch)  # named so the loss comes first
    writer.add_scalar(curves.BEST_VAL, state.best_val_loss, epoch)  # a curve whose last point is best.pt's loss
    writer.add_scalar(curves.EPOCH_SECONDS, seconds, epoch)
    writer.add_scalar(curves.LEARNING_RATE, exp.optimizer.param_groups[0]["lr"], epoch)
    epochs = exp.cfg.trainer.epochs
    shown = "".join(f"  val_{key} {val[key]:.4g}" for r in exp.regularizers for key in r.on_screen if key in val)
    log.info(
        "epoch %*d/%d  train %.4f  val %.4f  val_sse %.4f%s  %.2fs%s",
        len(str(epochs)), epoch, epochs, train["total"], val["total"], val["recon_sse"], shown, seconds,
        "  (best)" if improved else "",
    )
