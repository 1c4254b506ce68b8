"""The training loop: forward, loss, backward, step, log.

The whole dataset sits on the training device and is batched by index. Loss terms
are accumulated on the device and read back once per epoch, so the hot loop never
waits on a host sync.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from omegaconf import DictConfig
from torch import Tensor

from aecli.checkpoint import save_checkpoint
from aecli.data import Dataset, Split
from aecli.errors import TrainingDiverged, TrainingStopped, UserError
from aecli.guards import FiniteGuard, GracefulStop, non_finite
from aecli.likelihoods import Likelihood
from aecli.models import Autoencoder, Forward
from aecli.regularizers import Regularizer
from aecli.resume import capture_rng, restore_rng

log = logging.getLogger("aecli")

OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": lambda params, cfg, fused: torch.optim.Adam(params, lr=cfg.lr, fused=fused),
    "adamw": lambda params, cfg, fused: torch.optim.AdamW(params, lr=cfg.lr, fused=fused),
    "sgd": lambda params, cfg, fused: torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum),
}
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


def build_optimizer(model: torch.nn.Module, cfg: DictConfig) -> torch.optim.Optimizer:
    """The optimizer `cfg.optimizer` names. Adam and AdamW use torch's fused kernel where it
    exists (CUDA; the CPU from torch 2.4): the same update in one pass over the parameters."""
    if cfg.optimizer not in OPTIMIZERS:
        raise UserError(f"trainer.optimizer={cfg.optimizer} is unknown; choose one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[cfg.optimizer](model.parameters(), cfg, _fused_available(model) or None)


def _fused_available(model: torch.nn.Module) -> bool:
    devices = {p.device.type for p in model.parameters()}
    cpu_fused = tuple(int(part) for part in torch.__version__.split(".")[:2]) >= (2, 4)
    return devices == {"cuda"} or (devices == {"cpu"} and cpu_fused)


def check_trainer_config(cfg: DictConfig) -> None:
    """Reject settings that cannot train before any work starts."""
    for key in ("epochs", "batch_size", "eval_batch_size"):
        value = cfg[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UserError(f"trainer.{key} must be a positive integer, got {value!r}")
    if not isinstance(cfg.lr, (int, float)) or not cfg.lr > 0 or not math.isfinite(cfg.lr):
        raise UserError(f"trainer.lr must be a positive number, got {cfg.lr!r}")
    if cfg.progress not in ("auto", True, False):
        raise UserError(f"trainer.progress must be auto, true or false, got {cfg.progress!r}")
    precision = cfg.get("precision", "fp32")  # .get: runs saved before the key existed still resume
    if precision not in PRECISIONS:
        raise UserError(f"trainer.precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if cfg.get("compile", False) not in (True, False):
        raise UserError(f"trainer.compile must be true or false, got {cfg.compile!r}")


def loss_terms(
    model: Autoencoder,
    likelihood: Likelihood,
    regularizers: list[Regularizer],
    x: Tensor,
    corrupt: bool = True,
) -> tuple[dict[str, Tensor], Forward]:
    """Named loss terms for one batch, each averaged over the batch; "total" is their sum.

    "recon" is the likelihood's negative log-likelihood of the clean `x`: nats per sample,
    summed over the data dimensions. With `corrupt` (training) the encoder sees `x` after
    every regularizer's corruption; the model's own terms (`Autoencoder.penalty`: sparse
    coding's `l1`) and each regularizer's penalties follow under their own names.
    The model's and regularizers' diagnostics (e.g. the VAE's KL per latent) are added after "total": logged
    like the terms, never optimized.
    """
    x_in = x
    if corrupt:
        for regularizer in regularizers:
            x_in = regularizer.corrupt(x_in)
    forward = model(x_in)
    terms = {"recon": likelihood.nll(forward.output, x).mean(), **model.penalty(x_in, forward)}
    for regularizer in regularizers:
        terms.update(regularizer.penalty(model, x_in, forward))
    terms["total"] = sum(terms.values())
    with torch.no_grad():
        terms.update(model.diagnostics(x_in, forward))
        for regularizer in regularizers:
            terms.update(regularizer.diagnostics(model, x_in, forward))
    return terms, forward


def make_step_loss(
    model: Autoencoder, likelihood: Likelihood, regularizers: list[Regularizer], trainer: DictConfig
) -> Callable[[Tensor], dict[str, Tensor]]:
    """A training batch -> its loss terms (see `loss_terms`), under bf16 autocast when
    `trainer.precision=bf16` and compiled with torch.compile when `trainer.compile=true`."""
    dtype = PRECISIONS[trainer.get("precision", "fp32")]
    device_type = next(model.parameters()).device.type

    def step_loss(x: Tensor) -> dict[str, Tensor]:
        if dtype is None:  # fp32: no autocast context at all
            return loss_terms(model, likelihood, regularizers, x)[0]
        with torch.autocast(device_type, dtype=dtype):
            return loss_terms(model, likelihood, regularizers, x)[0]

    return _compiled(step_loss, device_type) if trainer.get("compile", False) else step_loss


def _compiled(step_loss: Callable[[Tensor], dict[str, Tensor]], device_type: str) -> Callable[[Tensor], dict[str, Tensor]]:
    """torch.compile of `step_loss`; a compiler that cannot run becomes one UserError line."""
    import shutil

    advice = "set trainer.compile=false"
    if device_type == "cpu" and not any(shutil.which(c) for c in (os.environ.get("CXX", "g++"), "g++", "clang++", "c++")):
        raise UserError(f"trainer.compile=true on the CPU needs a C++ compiler (g++ or clang++) on PATH; install one or {advice}")
    compiled = torch.compile(step_loss)

    def call(x: Tensor) -> dict[str, Tensor]:
        try:
            return compiled(x)
        except torch._dynamo.exc.BackendCompilerFailed as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserError(f"trainer.compile=true failed to compile the training step ({reason}); {advice}") from None

    return call


def evaluate_split(
    model: Autoencoder,
    likelihood: Likelihood,
    regularizers: list[Regularizer],
    split: Split,
    batch_size: int,
) -> dict[str, float]:
    """Every loss term on a whole split (no corruption) plus `recon_sse`, the squared error
    of the reconstruction per sample, in large batches, under inference mode (plain no_grad
    when a regularizer's penalty differentiates the encoder, e.g. contractive)."""
    model.eval()
    inference = not any(r.needs_grad for r in regularizers)
    sums: dict[str, Tensor] = {}
    with torch.no_grad(), torch.inference_mode(inference):
        for start in range(0, len(split), batch_size):
            x = split.x[start : start + batch_size]
            terms, forward = loss_terms(model, likelihood, regularizers, x, corrupt=False)
            terms["recon_sse"] = (likelihood.mean(forward.output) - x).pow(2).flatten(1).sum(1).mean()
            for key, value in terms.items():
                sums[key] = sums.get(key, 0) + value * len(x)
        means = (torch.stack([value.float() for value in sums.values()]) / len(split)).tolist()  # one host sync
    return dict(zip(sums, means))


@torch.inference_mode()
def encode_split(model: Autoencoder, split: Split, batch_size: int) -> Tensor:
    model.eval()
    return torch.cat([model.encode(split.x[i : i + batch_size]) for i in range(0, len(split), batch_size)])


@torch.inference_mode()
def reconstruct(model: Autoencoder, likelihood: Likelihood, x: Tensor) -> Tensor:
    """The decoder's mean for the deterministic code of `x` (the posterior mean for a VAE)."""
    model.eval()
    return likelihood.mean(model.decode(model.encode(x), x))


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
        return cls(**{key: state[key] for key in cls.__dataclass_fields__})


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
    optimizer = build_optimizer(model, trainer)
    step_loss = make_step_loss(model, likelihood, regularizers, trainer)
    config = _plain_config(cfg)
    checkpoints = run_dir / "checkpoints"
    progress = ProgressBar(trainer.progress is True or (trainer.progress == "auto" and sys.stderr.isatty()))
    num_train, batch_size = len(data.train), int(trainer.batch_size)
    num_batches = math.ceil(num_train / batch_size)
    device = data.train.x.device
    result = FitResult() if resume is None else FitResult.resume(resume, optimizer, trainer.lr)
    stop, guard = stop or GracefulStop(), FiniteGuard()
    width = len(str(trainer.epochs))
    start_all, seconds_before = time.perf_counter(), result.seconds

    for epoch in range(result.epochs_completed + 1, trainer.epochs + 1):
        start = time.perf_counter()
        model.train()
        for regularizer in regularizers:
            regularizer.start_epoch(epoch)
        if result.order is None:  # a fresh epoch, else the rest of the one a graceful stop cut short
            result.order, result.sums, result.step = torch.randperm(num_train, device=device), {}, 0
        order, names, running = result.order, [], None
        for step, begin in enumerate(range(result.step * batch_size, num_train, batch_size), result.step + 1):
            index = order[begin : begin + batch_size]
            x = data.training_batch(data.train.x.index_select(0, index))
            terms = step_loss(x)
            optimizer.zero_grad(set_to_none=True)
            terms["total"].backward()
            optimizer.step()
            model.after_step()
            # Every term in one vector: a few device ops per step whatever the number of terms.
            values = torch.stack([value.detach().float() for value in terms.values()])
            if running is None:
                names, running = list(terms), _stacked(result.sums, terms, values)
            running.add_(values, alpha=len(index))
            guard.observe(step, names, values)
            progress.update(f"epoch {epoch}/{trainer.epochs}", step, num_batches)
            if stop.requested and step < num_batches:
                progress.clear()
                _check_finite(guard, epoch, num_batches, result, trainer)
                result.sums = dict(zip(names, running.unbind()))
                result.step, result.seconds = step, seconds_before + time.perf_counter() - start_all
                save_checkpoint(checkpoints / "last.pt", model=model, optimizer=optimizer, epoch=epoch - 1,
                                config=config, metrics={}, train_state=result.train_state())
                raise _stopped(stop, run_dir, f"epoch {epoch}, step {step}/{num_batches}", result)
        progress.clear()
        _check_finite(guard, epoch, num_batches, result, trainer)
        train = {key: value / num_train for key, value in zip(names, running.tolist())}  # the epoch's one host sync
        val = evaluate_split(model, likelihood, regularizers, data.val, trainer.eval_batch_size)
        _check_finite_validation(val, epoch, result, trainer)
        seconds = time.perf_counter() - start

        improved = val["total"] < result.best_val_loss
        if improved:
            result.best_val_loss, result.best_epoch = val["total"], epoch
        result.epochs_completed, result.train = epoch, train
        result.order, result.sums, result.step = None, {}, 0
        result.seconds = seconds_before + time.perf_counter() - start_all
        for key, value in train.items():
            writer.add_scalar(f"train/{key}", value, epoch)
        for key, value in val.items():
            writer.add_scalar(f"val/{key}", value, epoch)
        writer.add_scalar("time/epoch_seconds", seconds, epoch)
        log.info(
            "epoch %*d/%d  train %.4f  val %.4f  val_sse %.4f  %.2fs%s",
            width, epoch, trainer.epochs, train["total"], val["total"], val["recon_sse"], seconds,
            "  (best)" if improved else "",
        )
        if on_epoch_end is not None:
            on_epoch_end(epoch)
        writer.flush()  # TensorBoard holds this epoch before last.pt says it is done

        metrics = {f"train_{k}": v for k, v in train.items()} | {f"val_{k}": v for k, v in val.items()}
        checkpoint = dict(model=model, optimizer=optimizer, epoch=epoch, config=config, metrics=metrics)
        if improved:
            save_checkpoint(checkpoints / "best.pt", **checkpoint)
        save_checkpoint(checkpoints / "last.pt", **checkpoint, train_state=result.train_state())
        if stop.requested and epoch < trainer.epochs:
            raise _stopped(stop, run_dir, f"the end of epoch {epoch}", result)

    return result


def _stacked(sums: dict[str, Tensor], terms: dict[str, Tensor], like: Tensor) -> Tensor:
    """The running sums of `terms` as one vector, starting from `sums` (those a graceful stop
    saved in the middle of an epoch) or from zero."""
    return torch.stack([torch.as_tensor(sums.get(key, 0.0), dtype=like.dtype, device=like.device) for key in terms])


def _check_finite(guard: FiniteGuard, epoch: int, num_batches: int, result: FitResult, trainer: DictConfig) -> None:
    failure = guard.first_failure()
    guard.reset()
    if failure is not None:
        step, term, value = failure
        what = f"the loss term {term!r} became {value} at epoch {epoch}, step {step}/{num_batches}"
        raise _diverged(what, epoch, step, term, result, trainer)


def _check_finite_validation(val: dict[str, float], epoch: int, result: FitResult, trainer: DictConfig) -> None:
    failure = non_finite(val)
    if failure is not None:
        term, value = failure
        raise _diverged(f"the validation loss term {term!r} is {value} after epoch {epoch}", epoch, None, term, result, trainer)


def _diverged(what: str, epoch: int, step: int | None, term: str, result: FitResult, trainer: DictConfig) -> TrainingDiverged:
    done = result.epochs_completed
    if done:
        advice = f"checkpoints/last.pt (epoch {done}) is kept as the last good state; resume it with a lower trainer.lr (now {trainer.lr})"
    else:
        advice = f"no checkpoint was written; train again with a lower trainer.lr (now {trainer.lr})"
    metrics = {"status": "diverged", "failure": f"training diverged: {what}", "failure_epoch": epoch,
               "failure_step": step, "failure_term": term, "epochs": done, "best_epoch": result.best_epoch}
    return TrainingDiverged(f"training diverged: {what}; {advice}", metrics)


def _stopped(stop: GracefulStop, run_dir: Path, where: str, result: FitResult) -> TrainingStopped:
    message = f"{stop.name} received; stopped at {where} and saved checkpoints/last.pt; continue with: aecli train resume={run_dir}"
    return TrainingStopped(message, stop.signum or 0, {"status": "stopped", "epochs": result.epochs_completed})


def _plain_config(cfg: DictConfig) -> dict[str, Any]:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
