"""Choosing the training device and the CPU thread count."""

from __future__ import annotations

import os
from pathlib import Path

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


# Parameters x batch samples of one training step below which one CPU thread is fastest: on an idle
# 2-core AMD EPYC (Zen 4), batch 128, 2 threads took 1.23x longer than 1 for a 52k-parameter MLP
# and 1.54x less for a 160k one (benchmarks/threads.py; docs/performance.md, threads).
SMALL_STEP = 100_000 * 128


def choose_threads(
    num_threads: int | None, num_parameters: int, batch_size: int, device: torch.device, processes: int = 1,
) -> tuple[int, str]:
    """torch's CPU thread count for a run and why: `trainer.num_threads` when set; else torch's own
    default (one per physical core, or OMP_NUM_THREADS), shared among the `processes` of a
    distributed run on this machine, except one thread for a step (per process) smaller than
    SMALL_STEP, where threads only fight over a few small products. Never the load average: the
    count, and so the order of every sum, is the same whatever ran a minute before."""
    if num_threads is not None:
        return num_threads, "trainer.num_threads"
    if device.type != "cpu":
        return torch.get_num_threads(), f"torch's default; the model runs on {device.type}"
    work = num_parameters * batch_size
    if work < SMALL_STEP:
        return 1, f"auto: {num_parameters:,} parameters x batch {batch_size} < {SMALL_STEP:,}"
    if processes > 1:
        share = max(1, torch.get_num_threads() // processes)
        return share, f"auto: torch's default shared by {processes} processes on this machine"
    return torch.get_num_threads(), f"auto: torch's default, {num_parameters:,} parameters x batch {batch_size}"


# trainer.precision=auto: bf16 from this step size on a CPU with native bf16 (AVX512-BF16 or AMX). On
# an idle 2-core AMD EPYC (Zen 4, avx512_bf16), 2 threads, 3 epochs of MNIST: the VAE 784-400-20
# (0.65M parameters) 1.3x faster, the AE 784-1000-500-250-30 1.5x, the conv AE [32,64]-10 1.25x,
# each with a test loss no worse than fp32's by more than 0.2 % (docs/performance.md, bf16).
BF16_STEP = 500_000 * 128


def choose_precision(precision: str, num_parameters: int, batch_size: int, device: torch.device) -> tuple[str, str]:
    """The precision a run trains in and why: `trainer.precision` itself, or for auto bf16 where it
    was measured to pay (a CPU with native bf16, a step of at least BF16_STEP), else fp32. On a
    GPU auto keeps fp32: no GPU measurement backs bf16 there yet."""
    from aecli.private_apis import cpu_has_bf16

    if precision != "auto":
        return precision, f"trainer.precision={precision}"
    if device.type != "cpu":
        return "fp32", f"auto: bf16 is not measured on {device.type} yet"
    if not cpu_has_bf16():
        return "fp32", "auto: this CPU has no bf16 units (AVX512-BF16 or AMX)"
    if num_parameters * batch_size < BF16_STEP:
        return "fp32", f"auto: a step of {num_parameters:,} parameters x batch {batch_size} is too small for bf16 to pay"
    return "bf16", f"auto: a CPU with bf16 units and a step of {num_parameters:,} parameters x batch {batch_size}"


def flush_denormals() -> bool:
    """Treat denormal floats as zero in CPU arithmetic (torch.set_flush_denormal; x86 with SSE3),
    for the whole process; True where supported. Values that sink into the denormal range are
    slow on many CPUs: on an Intel Xeon a deep AE's epochs grew from 4.8 to 9.2 s as they did, and
    stayed at 4.7 s flushed, with the same test loss (docs/performance.md, denormals)."""
    return torch.set_flush_denormal(True)


def busy_advice(threads: int) -> str | None:
    """A line for the start line when other work holds the cores (the load average leaves fewer
    than `threads` - 1 idle: at least one core's worth of other work; a load of 0.6 on 2 cores is
    the shell and aecli's own start, not a busy machine): advice only, the thread count does not change."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # no load average (Windows)
        return None
    cores = os.cpu_count() or 1
    if threads <= 1 or cores - load >= threads - 1:
        return None
    return f"the machine is busy (load {load:.1f} on {cores} cores): trainer.num_threads=1 may be faster while it lasts"


# The CPU flags that decide how fast aecli's matrix products can be (fp32 SIMD width, native bf16).
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_description() -> str:
    """The CPU in one line, for benchmarks and docs: its model name, core count and the speed
    flags it has (Linux's /proc/cpuinfo; elsewhere what platform knows)."""
    import platform

    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs"
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    flags = set(fields.get("flags", "").split())
    present = [flag for flag in SPEED_FLAGS if flag in flags]
    model = f"{fields.get('model name', 'unknown CPU')} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"
    return f"{model}, {os.cpu_count()} logical CPUs, flags {' '.join(present) or 'none of ' + ', '.join(SPEED_FLAGS)}"
