"""The roofline columns of the benchmark: the work of an epoch in FLOPs, and the machine's
practical peak measured in the same run with the same threads.

FLOPs are counted by torch's own FlopCounterMode on the real model: one real training step
(aecli's step loss on a real batch, then its backward) of a copy of the model, and one
validation batch's forward, each scaled to the epoch (a step's FLOPs are linear in the
batch size for these layers, so FLOPs per sample times samples). FlopCounterMode counts the
matrix products and convolutions (mm, addmm, bmm, convolution and their backward); the
element-wise work (activations, the loss, the optimizer) is not counted, as in every
roofline of a network: it is memory-bound and small next to the products.

The peak is the practical one: a 2048x2048 fp32 matrix product (2 * 2048**3 FLOPs), timed
`repeats` times after one warm-up, the fastest kept, on the threads the epochs use.
`PeakMeter.measure` is called between epochs, so a neighbour's load moves the peak and the
epochs alike; the report keeps every measurement and uses their maximum.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

PEAK_SIZE = 2048


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker, whose backward hooks refuse the
    `autograd.grad` inside the contractive penalty's Jacobian: every FLOP counts as "Global"
    (the total is all the benchmark reads)."""

    parents = {"Global"}

    def __enter__(self) -> None: ...

    def __exit__(self, *args: object) -> None: ...


def counter() -> FlopCounterMode:
    mode = FlopCounterMode(display=False)
    mode.mod_tracker = _GlobalOnly()
    return mode


def step_flops(model: torch.nn.Module, step_loss_factory, x: torch.Tensor) -> int:
    """FLOPs of one training step (forward + backward) of a copy of `model` on batch `x`.
    `step_loss_factory(model)` makes the step loss (aecli's `make_step_loss`) for the copy."""
    twin = copy.deepcopy(model)
    twin.train()
    step_loss = step_loss_factory(twin)
    with counter() as count:
        step_loss(x)["total"].backward()
    return int(count.get_total_flops())


def eval_flops(model: torch.nn.Module, forward, x: torch.Tensor) -> int:
    """FLOPs of `forward(model, x)` (the validation pass's loss on batch `x`), no gradients."""
    model.eval()
    with torch.no_grad(), counter() as count:
        forward(model, x)
    return int(count.get_total_flops())


class PeakMeter:
    """The practical peak of a PEAK_SIZE matrix product on `device`, in GFLOP/s."""

    def __init__(self, device: torch.device, dtype: torch.dtype = torch.float32, repeats: int = 5):
        self.device, self.dtype, self.repeats = device, dtype, repeats
        generator = torch.Generator().manual_seed(0)
        self.a = torch.randn(PEAK_SIZE, PEAK_SIZE, generator=generator).to(device, dtype)
        self.b = torch.randn(PEAK_SIZE, PEAK_SIZE, generator=generator).to(device, dtype)
        self.wall: list[float] = []  # GFLOP/s by wall time, one per measurement
        self.cpu: list[float] = []  # GFLOP per CPU second of this process (all threads), one per measurement

    def measure(self) -> float:
        """One measurement: the fastest of `repeats` products after a warm-up; its GFLOP/s."""
        flops = 2 * PEAK_SIZE**3
        torch.mm(self.a, self.b)
        best_wall, best_cpu = float("inf"), float("inf")
        for _ in range(self.repeats):
            _sync(self.device)
            start, cpu = time.perf_counter(), time.process_time()
            torch.mm(self.a, self.b)
            _sync(self.device)
            best_wall, best_cpu = min(best_wall, time.perf_counter() - start), min(best_cpu, time.process_time() - cpu)
        self.wall.append(flops / best_wall / 1e9)
        self.cpu.append(flops / max(best_cpu, 1e-9) / 1e9)
        return self.wall[-1]

    def report(self) -> dict[str, Any]:
        return {
            "how": f"fastest of {self.repeats} torch.mm of two {PEAK_SIZE}x{PEAK_SIZE} {str(self.dtype).removeprefix('torch.')} "
                   f"matrices after a warm-up, measured between epochs with the epochs' threads; peak = max of the measurements",
            "gflops": max(self.wall),
            "gflops_measurements": [round(v, 1) for v in self.wall],
            "gflops_per_cpu_second": max(self.cpu),
        }


def roofline(flops_per_epoch: float, epoch_seconds: float, epoch_cpu_seconds: float, peak: dict[str, Any]) -> dict[str, float]:
    """Achieved GFLOP/s and its fraction of the peak, by wall time and by CPU time (this
    process's CPU seconds, all threads: steadier when a neighbour loads the machine)."""
    achieved = flops_per_epoch / epoch_seconds / 1e9
    per_cpu_second = flops_per_epoch / epoch_cpu_seconds / 1e9
    return {
        "gflop_per_epoch": flops_per_epoch / 1e9,
        "achieved_gflops": achieved,
        "fraction_of_peak": achieved / peak["gflops"],
        "gflop_per_cpu_second": per_cpu_second,
        "fraction_of_peak_cpu_time": per_cpu_second / peak["gflops_per_cpu_second"],
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
