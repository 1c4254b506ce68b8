"""Wall time of one 4-job sweep with the basic launcher (jobs one after another, with torch's
default threads and with one thread) against hydra/launcher=joblib (parallel jobs, cores //
n_jobs threads each).

    python benchmarks/sweep_speedup.py [--rounds 1] [--epochs 30] [--launchers basic basic_1thread joblib]

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

# name -> (extra overrides, OMP/MKL threads in the environment; None: torch's default)
LAUNCHERS = {"basic": ([], None), "basic_1thread": ([], "1"), "joblib": (["hydra/launcher=joblib"], None)}


def sweep(launcher: str, folder: Path, epochs: int) -> float:
    overrides, threads = LAUNCHERS[launcher]
    command = [sys.executable, "-m", "aecli", "train", "-m", *overrides, "model.latent_dim=2,3,4,5",
               f"trainer.epochs={epochs}", "tsne.enabled=false", "trainer.progress=false", f"hydra.sweep.dir={folder}"]
    env = {key: value for key, value in os.environ.items() if key not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    if threads is not None:
        env |= {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--launchers", nargs="+", default=list(LAUNCHERS), choices=list(LAUNCHERS))
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; 4 jobs per sweep, {args.epochs} epochs each")
    with tempfile.TemporaryDirectory() as scratch:
        for round_number in range(args.rounds):
            order = args.launchers if round_number % 2 == 0 else list(reversed(args.launchers))
            seconds = {}
            for launcher in order:
                load = os.getloadavg()[0]
                seconds[launcher] = sweep(launcher, Path(scratch) / f"{launcher}{round_number}", args.epochs)
                print(f"round {round_number + 1}: {launcher:<13} {seconds[launcher]:6.1f} s (load {load:.1f} before, {os.getloadavg()[0]:.1f} after)")
            for other in ("basic", "basic_1thread"):
                if other in seconds and "joblib" in seconds:
                    print(f"round {round_number + 1}: joblib is {seconds[other] / seconds['joblib']:.2f}x as fast as {other}")


if __name__ == "__main__":
    main()
