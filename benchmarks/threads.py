"""When do more torch threads pay on the CPU? Times training steps of an MLP autoencoder
(784 -> hidden -> 10 -> hidden -> 784, batch 128, Adam) at 1 and at N threads, for growing
hidden widths, so the rule of aecli.engine.device.choose_threads can be checked on a machine:

    python benchmarks/threads.py [--threads N] [--steps 30]

Prints, per width, the parameter count and milliseconds per step at each thread count."""

from __future__ import annotations

import argparse
import os
import time

import torch
from torch import nn


def step_ms(hidden: int, threads: int, steps: int) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10), nn.Linear(10, hidden), nn.ReLU(), nn.Linear(hidden, 784))
    optimizer = torch.optim.Adam(model.parameters())
    x = torch.rand(128, 784)
    for i in range(steps + 5):
        if i == 5:
            start = time.perf_counter()
        loss = (model(x) - x).pow(2).sum(1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return 1000 * (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")
    for hidden in (32, 100, 256, 512, 1024, 2048):
        params = 2 * (784 * hidden + hidden * 10) + hidden + 10 + hidden + 784
        one, many = step_ms(hidden, 1, args.steps), step_ms(hidden, args.threads, args.steps)
        print(f"hidden {hidden:5d}  {params:>10,} parameters  1 thread {one:7.2f} ms  {args.threads} threads {many:7.2f} ms")


if __name__ == "__main__":
    main()
