"""Does a conv autoencoder keep the colours of a small RGB image folder, and after how many steps?

    python benchmarks/colour.py                                # epochs 100 250 null (auto), prints the table
    python benchmarks/colour.py --epochs 250 --variants model.activation=relu model.activation=elu --data-seed 2 seed=1
    python benchmarks/colour.py --epochs null --figure docs/figures/shapes_colour.png

Writes a folder of 300 RGB 32x32 shapes (a circle, square or triangle of a random colour on a
light-gray background, one class subfolder per shape; fixed seed), trains `model=conv` on it
(`aecli train dataset=image_folder`, batch 128: 2 steps per epoch on its 240 training images)
for each `--epochs` value, and reports for the reconstructions of all 300 images the colour
spread (the mean over images and pixels of the standard deviation across the three channels:
0 for gray pixels) beside the inputs' and PCA's with 10 components (the conv code's size), and
the mean squared error. `--figure`: the inputs above every run's reconstructions."""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import cpu_description  # noqa: E402

SIDE, COUNT, BATCH = 32, 300, 128


def make_shapes(root: Path, seed: int = 1) -> None:
    """The folder: COUNT PNGs in circle/, square/, triangle/."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    for k in range(COUNT):
        shape = ("circle", "square", "triangle")[k % 3]
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        image = Image.new("RGB", (SIDE, SIDE), (220, 220, 220))
        draw = ImageDraw.Draw(image)
        r = int(rng.integers(5, 10))
        cx, cy = (int(v) for v in rng.integers(r, SIDE - r, 2))
        if shape == "circle":
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        elif shape == "square":
            draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colour)
        else:
            draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
        (root / shape).mkdir(parents=True, exist_ok=True)
        image.save(root / shape / f"{k:04d}.png")


def images(root: Path) -> np.ndarray:
    from PIL import Image

    files = sorted(root.rglob("*.png"))
    return np.stack([np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255 for f in files]).transpose(0, 3, 1, 2)


def spread(x: np.ndarray) -> float:
    return float(x.std(axis=1).mean())


def pca(x: np.ndarray, components: int) -> np.ndarray:
    flat = x.reshape(len(x), -1)
    mean = flat.mean(0)
    _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
    return ((flat - mean) @ vt[:components].T @ vt[:components] + mean).reshape(x.shape)


def train(folder: Path, epochs: str, run: Path, overrides: list[str]) -> tuple[int, float]:
    """(epochs trained, seconds) of one `aecli train` of model=conv on the folder."""
    command = [sys.executable, "-m", "aecli", "train", "dataset=image_folder", f"dataset.path={folder}", "model=conv",
               f"trainer.epochs={epochs}", "tsne.enabled=false", "trainer.progress=false", f"hydra.run.dir={run}", *overrides]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    seconds = float(re.search(r"done in ([\d.]+)s", (run / "train.log").read_text()).group(1))
    import json

    return int(json.loads((run / "metrics.json").read_text())["epochs"]), seconds


def figure(x: np.ndarray, rows: list[tuple[str, np.ndarray]], path: Path) -> None:
    """The inputs above each run's reconstructions of the same ten images."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = np.linspace(0, len(x) - 1, 10).astype(int)
    rows = [("input", x), *rows]
    fig, axes = plt.subplots(len(rows), len(shown), figsize=(1.2 * len(shown), 1.35 * len(rows)), constrained_layout=True)
    for row, (label, source) in enumerate(rows):
        for column, index in enumerate(shown):
            axes[row, column].imshow(np.clip(source[index].transpose(1, 2, 0), 0, 1), interpolation="nearest")
            axes[row, column].set_axis_off()
        axes[row, 0].set_title(label, loc="left", fontsize=9)
    fig.suptitle("model=conv on 300 RGB shapes (benchmarks/colour.py)", fontsize=10)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", nargs="+", default=["100", "250", "null"])
    parser.add_argument("--variants", nargs="+", default=[""], help="one override per variant (each row: epochs x variant)")
    parser.add_argument("--data-seed", type=int, default=1, help="the shapes' draw")
    parser.add_argument("--figure", type=Path, default=None)
    parser.add_argument("overrides", nargs="*", help="overrides of every run, e.g. seed=1")
    args = parser.parse_args()
    import aecli

    print(f"# {cpu_description()}; load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "shapes"
        make_shapes(folder, args.data_seed)
        x = images(folder)
        baseline = pca(x, 10)
        print(f"# shapes drawn with seed {args.data_seed}; every run: {' '.join(args.overrides) or 'the defaults'}")
        print("| trainer.epochs | variant | epochs trained | optimizer steps | seconds | colour spread | MSE |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        print(f"| (inputs) | | | | | {spread(x):.3f} | |")
        print(f"| (PCA, 10 components) | | | | | {spread(baseline):.3f} | {float(((baseline - x) ** 2).mean()):.4f} |")
        drawn = []
        for epochs in args.epochs:
            for number, variant in enumerate(args.variants):
                run = Path(tmp) / f"run-{epochs}-{number}"
                trained, seconds = train(folder, epochs, run, [*args.overrides, *filter(None, [variant])])
                reconstructed = np.asarray(aecli.load_run(str(run)).reconstruct(x))
                steps = trained * math.ceil(240 / BATCH)
                print(f"| {epochs} | {variant or 'defaults'} | {trained} | {steps} | {seconds:.0f} | {spread(reconstructed):.3f} | "
                      f"{float(((reconstructed - x) ** 2).mean()):.4f} |", flush=True)
                drawn.append((f"trainer.epochs={epochs}{' ' + variant if variant else ''}: {steps} steps", reconstructed))
        if args.figure is not None:
            figure(x, drawn, args.figure)
            print(f"# figure: {args.figure}")
    print(f"# load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
