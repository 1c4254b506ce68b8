"""Epoch time and samples per second of one run on 1, 2, ... processes (trainer.devices; gloo on
the CPU, NCCL on GPUs), the same model and global batch, the CPU (or GPU) named.

    python benchmarks/scaling.py --data-root DATA --devices 1 2 --epochs 3
    python benchmarks/scaling.py --data-root DATA --devices 1 2 4 --device cuda   # a machine with GPUs

Each row is one `aecli train` of MNIST with the MLP 784-1000-500-250-10 (mnist_ae's) and batch
128: the mean epoch time of epochs 2.. (the first carries the start-up) from train.log, and the
training samples per second it gives. Measure on an idle machine: with 2 cores, two processes
share them with anything else that runs."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import cpu_description  # noqa: E402

EPOCH = re.compile(r"epoch +(\d+)/\d+ .* ([\d.]+)s")


def one_run(devices: int, args: argparse.Namespace, folder: Path) -> tuple[float, int]:
    """(mean seconds of epochs 2.., training samples) of one run on `devices` processes."""
    run = folder / f"devices{devices}"
    command = [sys.executable, "-m", "aecli", "train", "+experiment=mnist_ae", f"data.root={args.data_root}",
               f"trainer.epochs={args.epochs}", f"trainer.devices={devices}", f"trainer.device={args.device}",
               "evaluate_after=false", "tsne.enabled=false", "log.num_reconstructions=0", "trainer.progress=false",
               f"hydra.run.dir={run}"]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    log = (run / "train.log").read_text()
    seconds = [float(m.group(2)) for m in EPOCH.finditer(log) if int(m.group(1)) > 1]
    samples = int(re.search(r"\((\d+)/\d+/\d+ train/val/test", log).group(1))
    return sum(seconds) / len(seconds), samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"# {cpu_description()}; load average {os.getloadavg()[0]:.1f} at the start")
    print("| processes | epoch (s) | samples/s | speed-up |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        first = None
        for devices in args.devices:
            seconds, samples = one_run(devices, args, Path(tmp))
            first = first or seconds
            print(f"| {devices} | {seconds:.2f} | {samples / seconds:,.0f} | {first / seconds:.2f}x |", flush=True)
    print(f"# load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
