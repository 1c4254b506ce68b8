"""Wall time of one 4-job sweep with the basic launcher (jobs one after another, torch's default
threads) against hydra/launcher=joblib (parallel jobs, cores // n_jobs threads each).

    python benchmarks/sweep_speedup.py [--rounds 2] [--epochs 30]

Each round runs the two sweeps back to back (alternating which goes first), so both see
about the same load; the load average is printed with each time. Default `aecli train` runs
(lines, MLP) with model.latent_dim=2,3,4,5 and no t-SNE.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAUNCHERS = {"basic": [], "joblib": ["hydra/launcher=joblib"]}


def sweep(launcher: str, folder: Path, epochs: int) -> float:
    command = [sys.executable, "-m", "aecli", "train", "-m", *LAUNCHERS[launcher], "model.latent_dim=2,3,4,5",
               f"trainer.epochs={epochs}", "tsne.enabled=false", "trainer.progress=false", f"hydra.sweep.dir={folder}"]
    env = {key: value for key, value in os.environ.items() if key not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; 4 jobs per sweep, {args.epochs} epochs each")
    with tempfile.TemporaryDirectory() as scratch:
        for round_number in range(args.rounds):
            order = ["basic", "joblib"] if round_number % 2 == 0 else ["joblib", "basic"]
            seconds = {}
            for launcher in order:
                load = os.getloadavg()[0]
                seconds[launcher] = sweep(launcher, Path(scratch) / f"{launcher}{round_number}", args.epochs)
                print(f"round {round_number + 1}: {launcher:<6} {seconds[launcher]:6.1f} s (load {load:.1f} before, {os.getloadavg()[0]:.1f} after)")
            print(f"round {round_number + 1}: speedup of joblib {seconds['basic'] / seconds['joblib']:.2f}x")


if __name__ == "__main__":
    main()
