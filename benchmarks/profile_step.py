"""Where a training step's time goes: torch.profiler over aecli's own training steps.

    python benchmarks/profile_step.py --data-root DATA --config vae            # fp32, the default
    python benchmarks/profile_step.py --data-root DATA --config vae --precision bf16
    python benchmarks/profile_step.py --data-root DATA --config conv --steps 20 --rows 30

Builds the benchmark's config (benchmarks/run.py CONFIGS), warms up, then profiles `--steps`
steps of the loop `aecli train` runs (aecli.engine.loop.train_epoch: batch, step loss,
backward, optimizer step, the on-device loss bookkeeping) and prints the operators by their
own CPU time, with the step's mean milliseconds and the FLOPs' share of the time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import CONFIGS, compose  # noqa: E402

from aecli.engine.experiment import build_experiment  # noqa: E402
from aecli.engine.guards import FiniteGuard, GracefulStop  # noqa: E402
from aecli.engine.loop import train_epoch  # noqa: E402
from aecli.engine.optim import make_step_loss  # noqa: E402
from aecli.engine.state import EpochPosition, ProgressBar  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=os.environ.get("AECLI_DATA_DIR"), required="AECLI_DATA_DIR" not in os.environ)
    parser.add_argument("--config", default="vae", choices=sorted(CONFIGS))
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--rows", type=int, default=25)
    parser.add_argument("--sort", default="self_cpu_time_total")
    args = parser.parse_args()
    cfg = compose(["dataset=mnist", f"data.root={args.data_root}", "trainer.progress=false", "tsne.enabled=false",
                   f"trainer.precision={args.precision}", *CONFIGS[args.config][1]])
    torch.manual_seed(cfg.seed)
    experiment = build_experiment(cfg, torch.device("cpu"))
    batch = int(cfg.trainer.batch_size)
    step_loss = make_step_loss(experiment.model, experiment.likelihood, experiment.regularizers, cfg.trainer)

    def steps(count: int) -> None:
        train = experiment.data.train
        experiment.data.train = train.__class__(train.stored[: count * batch], None, None, train.device)
        train_epoch(experiment, step_loss, EpochPosition(), 1, GracefulStop(), FiniteGuard(), ProgressBar(False))
        experiment.data.train = train

    steps(10)  # warm-up
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        start, cpu = time.perf_counter(), time.process_time()
        steps(args.steps)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    steps(args.steps)
    plain = time.perf_counter() - start
    print(prof.key_averages().table(sort_by=args.sort, row_limit=args.rows))
    print(f"{args.config}, {args.precision}, {torch.get_num_threads()} threads: {1000 * plain / args.steps:.2f} ms/step unprofiled, "
          f"{1000 * wall / args.steps:.2f} ms/step profiled ({1000 * cpu / args.steps:.2f} CPU ms); load {os.getloadavg()}")


if __name__ == "__main__":
    main()
