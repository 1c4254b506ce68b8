"""Choosing the training device and the CPU thread count."""

from __future__ import annotations

import os

import torch

from aecli.errors import UserError


# Share of a GPU's free memory the samples may take when they move there; the rest is left to
# the model, its activations (eval_batch_size rows at once) and the optimizer.
DATA_SHARE_OF_FREE_MEMORY = 0.7


def data_budget(device: torch.device, placement: str) -> int | None:
    """Bytes of samples that may move to `device` (None: no limit) for `data.placement`:
    auto (a share of the free memory), device (all of them), host (none: stream)."""
    if device.type == "cpu" or placement == "device":
        return None
    if placement == "host":
        return 0
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
    elif device.type == "mps" and hasattr(torch.mps, "recommended_max_memory"):
        free = torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory()
    else:
        return None
    return int(free * DATA_SHARE_OF_FREE_MEMORY)


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA, then MPS, then the CPU; an explicit device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"trainer.device={name} is not a device; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"trainer.device={name} but no CUDA device is available; use trainer.device=auto or cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(
                f"trainer.device={name} but only {torch.cuda.device_count()} CUDA device(s) exist; "
                f"use cuda:0..cuda:{torch.cuda.device_count() - 1}"
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"trainer.device={name} but MPS is not available here; use trainer.device=auto or cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"trainer.device={name} is not supported; use auto, cpu, cuda, cuda:N or mps")
    return device


SMALL_MODEL = 1_000_000  # parameters: below this one CPU thread is fastest (docs/performance.md, benchmarks/threads.py)


def choose_threads(num_threads: int | None, num_parameters: int, device: torch.device) -> tuple[int, str]:
    """torch's CPU thread count for a run and why: `trainer.num_threads` when set; else one
    thread for a model under SMALL_MODEL parameters (threads only fight over a few small matrix
    products), else torch's default capped at the cores the load average leaves idle."""
    if num_threads is not None:
        return num_threads, "trainer.num_threads"
    if device.type != "cpu":
        return torch.get_num_threads(), f"torch's default; the model runs on {device.type}"
    if num_parameters < SMALL_MODEL:
        return 1, f"auto: {num_parameters:,} parameters < {SMALL_MODEL:,}"
    idle = _idle_cores()
    threads = max(1, min(torch.get_num_threads(), idle))
    return threads, f"auto: {num_parameters:,} parameters, {idle} of {os.cpu_count()} cores idle"


def _idle_cores() -> int:
    try:
        load = os.getloadavg()[0]
    except OSError:  # no load average (Windows): count every core as idle
        load = 0.0
    return max(1, (os.cpu_count() or 1) - round(load))
