"""Epoch times of aecli's own training loop under each setting that moves them: torch threads,
precision, and whether denormal floats are flushed to zero, on the configs of benchmarks/run.py.

    python benchmarks/epochs.py --data-root DATA --configs vae,ae,conv --threads 1,2 --epochs 3
    python benchmarks/epochs.py --data-root DATA --configs ae --threads 2 --denormals flush,keep --epochs 4
    python benchmarks/epochs.py --data-root DATA --configs ae,conv --threads 2 --precisions fp32,bf16

Each combination trains the same initial weights on the same data (`fit`, the loop `aecli train`
runs, with trainer.scheduler=none), one after another in this process; the CPU, its flags and the
load average are printed with every table, so a figure always says what machine and load it
came from. Reported: the seconds of each epoch (validation included), the last epoch over the
first (denormals make it grow), and the test loss after the last epoch (aecli's evaluate_split).
Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import CONFIGS, NullWriter, compose  # noqa: E402

from aecli.engine.device import cpu_description  # noqa: E402
from aecli.engine.experiment import build_experiment  # noqa: E402
from aecli.engine.guards import GracefulStop  # noqa: E402
from aecli.engine.loop import fit  # noqa: E402
from aecli.engine.steps import evaluate_split  # noqa: E402


def run(name: str, threads: int, precision: str, flush: bool, args: argparse.Namespace, initial: dict) -> dict:
    torch.set_num_threads(threads)
    torch.set_flush_denormal(flush)
    cfg = compose(["dataset=mnist", f"data.root={args.data_root}", f"trainer.epochs={args.epochs}", "trainer.scheduler=none",
                   "trainer.progress=false", "tsne.enabled=false", f"trainer.precision={precision}",
                   f"trainer.num_threads={threads}", *CONFIGS[name][1]])
    torch.manual_seed(cfg.seed)
    experiment = build_experiment(cfg, torch.device("cpu"))
    experiment.model.load_state_dict(initial)
    seconds: list[float] = []
    mark = [time.perf_counter()]

    def epoch_end(epoch: int) -> None:  # called after validation and logging, before the checkpoints
        now = time.perf_counter()
        seconds.append(now - mark[0])
        mark[0] = now

    with tempfile.TemporaryDirectory() as folder:
        torch.manual_seed(0)
        fit(experiment, Path(folder), NullWriter(), GracefulStop(), on_epoch_end=epoch_end)
    torch.manual_seed(1234)
    test = evaluate_split(experiment.model, experiment.likelihood, experiment.regularizers, experiment.data.test, 4096)["total"]
    return {"seconds": seconds, "test_loss": test}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=os.environ.get("AECLI_DATA_DIR"), required="AECLI_DATA_DIR" not in os.environ)
    parser.add_argument("--configs", default="vae,ae,conv")
    parser.add_argument("--threads", default=str(os.cpu_count() or 1), help="comma-separated thread counts")
    parser.add_argument("--precisions", default="fp32", help="comma-separated: fp32, bf16")
    parser.add_argument("--denormals", default="flush", help="comma-separated: flush, keep")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    print(f"{cpu_description()}; torch {torch.__version__}; load average {os.getloadavg()} at the start")
    print("| config | threads | precision | denormals | epoch seconds | last / first | test loss |")
    print("| --- | ---: | --- | --- | --- | ---: | ---: |")
    for name in args.configs.split(","):
        cfg = compose(["dataset=mnist", f"data.root={args.data_root}", *CONFIGS[name][1]])
        torch.manual_seed(cfg.seed)
        initial = copy.deepcopy(build_experiment(cfg, torch.device("cpu")).model.state_dict())
        for threads, precision, denormals in itertools.product(
            [int(t) for t in args.threads.split(",")], args.precisions.split(","), args.denormals.split(",")
        ):
            result = run(name, threads, precision, denormals == "flush", args, initial)
            epochs = result["seconds"]
            print(f"| {CONFIGS[name][0]} | {threads} | {precision} | {denormals} | {', '.join(f'{s:.2f}' for s in epochs)} "
                  f"| {epochs[-1] / epochs[0]:.2f} | {result['test_loss']:.4f} |", flush=True)
    print(f"load average {os.getloadavg()} at the end")


if __name__ == "__main__":
    main()
