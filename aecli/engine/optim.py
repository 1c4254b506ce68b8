"""The optimizer and the compiled, autocast training step the loop calls."""

from __future__ import annotations

import logging
import os
import shutil
from typing import Callable

import torch
from omegaconf import DictConfig
from torch import Tensor

from aecli.engine.steps import loss_terms
from aecli.errors import UserError
from aecli.private_apis import compiler_failure_type, cpu_has_bf16
from aecli.likelihoods import Likelihood
from aecli.models import Autoencoder
from aecli.regularizers import Regularizer

# The names are declared once, in aecli.config.keys (trainer.optimizer, trainer.precision).
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": lambda params, cfg, fused: torch.optim.Adam(params, lr=cfg.lr, fused=fused, **_decay(cfg)),
    "adamw": lambda params, cfg, fused: torch.optim.AdamW(params, lr=cfg.lr, fused=fused, **_decay(cfg)),
    "sgd": lambda params, cfg, fused: torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, **_decay(cfg)),
}
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}

log = logging.getLogger("aecli")

StepLoss = Callable[[Tensor, "Tensor | None"], dict[str, Tensor]]


def build_optimizer(model: torch.nn.Module, cfg: DictConfig) -> torch.optim.Optimizer:
    """The optimizer `cfg.optimizer` names. Adam and AdamW use torch's fused kernel where it
    exists (CUDA; the CPU from torch 2.4): the same update in one pass over the parameters."""
    return OPTIMIZERS[cfg.optimizer](model.parameters(), cfg, _fused_available(model) or None)


def _decay(cfg: DictConfig) -> dict[str, float]:
    """trainer.weight_decay, or nothing for null: the optimizer's own default (adamw 0.01, adam and sgd 0)."""
    return {} if cfg.weight_decay is None else {"weight_decay": float(cfg.weight_decay)}


def _fused_available(model: torch.nn.Module) -> bool:
    devices = {p.device.type for p in model.parameters()}
    cpu_fused = tuple(int(part) for part in torch.__version__.split(".")[:2]) >= (2, 4)
    return devices == {"cuda"} or (devices == {"cpu"} and cpu_fused)


def make_step_loss(
    model: Autoencoder, likelihood: Likelihood, regularizers: list[Regularizer], trainer: DictConfig,
    forward_with: torch.nn.Module | None = None,
) -> StepLoss:
    """A training batch (and its labels, for a conditional model) -> its loss terms (see `loss_terms`), under bf16 autocast when
    `trainer.precision=bf16` and compiled with torch.compile when `trainer.compile=true`; the
    forward pass runs through `forward_with` when given (a distributed run's DDP wrapper)."""
    dtype = PRECISIONS[trainer.precision]
    device_type = next(model.parameters()).device.type
    if dtype is torch.bfloat16 and device_type == "cpu" and not cpu_has_bf16():
        log.warning("trainer.precision=bf16 on a CPU without bf16 instructions (AVX512-BF16 or AMX): "
                    "expect it several times slower than fp32 (docs/performance.md, bf16)")

    def step_loss(x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        if dtype is None:  # fp32: no autocast context at all
            return loss_terms(model, likelihood, regularizers, x, y, forward_with=forward_with)[0]
        with torch.autocast(device_type, dtype=dtype):
            return loss_terms(model, likelihood, regularizers, x, y, forward_with=forward_with)[0]

    return _compiled(step_loss, device_type) if trainer.compile else step_loss


def _compiled(step_loss: StepLoss, device_type: str) -> StepLoss:
    """torch.compile of `step_loss`; a compiler that cannot run becomes one UserError line."""
    advice = "set trainer.compile=false"
    if device_type == "cpu" and not any(shutil.which(c) for c in (os.environ.get("CXX", "g++"), "g++", "clang++", "c++")):
        raise UserError(f"trainer.compile=true on the CPU needs a C++ compiler (g++ or clang++) on PATH; install one or {advice}")
    compiled = torch.compile(step_loss)
    failure = compiler_failure_type()

    def call(x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        try:
            return compiled(x, y)
        except failure as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserError(f"trainer.compile=true failed to compile the training step ({reason}); {advice}") from None

    return call
