"""Run one experiment of the results page (the real `aecli train +experiment=NAME` command, which
ends with `aecli evaluate`) or read a run folder that already completed it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from aecli.results.entries import Entry, Metrics


@dataclass
class Outcome:
    status: str  # completed | failed | pending | running
    seconds: float | None = None
    metrics: Metrics = field(default_factory=dict)
    note: str = ""
    reused: bool = False  # read from a run folder an earlier invocation completed
    load: list[float | None] | None = None  # the 1-minute load average when the run started and ended


def run_dir_of(runs_dir: Path, entry: Entry, seed: int) -> Path:
    return runs_dir / entry.label / f"seed{seed}"


def run_entry(entry: Entry, seed: int, runs_dir: Path, figures_dir: Path, data_root: str | None,
              threads: int) -> Outcome:
    """Train (and evaluate) one experiment with one seed in runs_dir/<label>/seed<seed>, or read a
    completed run there."""
    run_dir = run_dir_of(runs_dir, entry, seed)
    done = _read_completed(run_dir)
    if done is not None:
        done.reused = True
        _draw_figures(entry, seed, run_dir, figures_dir)
        return done
    command = [sys.executable, "-m", "aecli", "train", f"+experiment={entry.experiment}", f"seed={seed}",
               f"hydra.run.dir={run_dir}", "trainer.progress=false"]
    if entry.mnist and data_root:
        command.append(f"data.root={data_root}")
    env = os.environ | {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "MPLBACKEND": "Agg"}
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    log_path = run_dir.parent / f"seed{seed}.log"
    load_before, started = _load_1min(), time.perf_counter()
    with open(log_path, "w") as log:
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
    seconds = time.perf_counter() - started
    if code != 0:
        lines = log_path.read_text().strip().splitlines()
        return Outcome("failed", seconds, note=f"exit {code}: {lines[-1] if lines else ''}")
    record = {"wall_seconds": seconds, "load_1min": [load_before, _load_1min()]}
    (run_dir / "results_seconds.json").write_text(json.dumps(record) + "\n")
    outcome = _read_completed(run_dir)
    if outcome is None:
        return Outcome("failed", seconds, note="no completed metrics.json")
    _draw_figures(entry, seed, run_dir, figures_dir)
    return outcome


def _load_1min() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _draw_figures(entry: Entry, seed: int, run_dir: Path, figures_dir: Path) -> None:
    """The figures the page links to (from the seed-0 run), drawn from a completed run when missing."""
    if seed != 0:
        return
    if entry.picture == "codes_next_to_pca" and not (figures_dir / f"{entry.experiment}_codes.png").is_file():
        figures_dir.mkdir(parents=True, exist_ok=True)
        draw_codes_next_to_pca(run_dir, figures_dir / f"{entry.experiment}_codes.png")


def _read_completed(run_dir: Path) -> Outcome | None:
    from aecli.errors import UserError
    from aecli.runs.store import read_metrics

    try:
        metrics = read_metrics(run_dir)
        record = json.loads((run_dir / "results_seconds.json").read_text())
        seconds = record["wall_seconds"]
    except (UserError, OSError, ValueError, KeyError):
        return None
    if metrics.get("status") != "completed" or "recon_sse" not in metrics:
        return None
    return Outcome("completed", seconds, metrics, load=record.get("load_1min"))


def draw_codes_next_to_pca(run_dir: Path, png_path: Path) -> None:
    """The 2-D codes of the test images beside their projection on the first two principal
    components of the train images (the figure of Hinton & Salakhutdinov 2006)."""
    import numpy as np

    from aecli.engine.steps import encode_split
    from aecli.evaluation.metrics import fit_pca
    from aecli.report.figures import plt
    from aecli.report.latents import embed_codes, latent_figure
    from aecli.api import load_run

    run = load_run(run_dir, "best")
    data = run.experiment.data
    codes = encode_split(run.experiment.model, data.test, int(run.cfg.trainer.eval_batch_size))
    pca = fit_pca(data.train.x.flatten(1).cpu().numpy(), 2)
    projected = pca.transform(data.test.x.flatten(1).cpu().numpy())
    import torch

    panels = [
        (embed_codes(codes, "scatter", 5000, 30.0, 0), "autoencoder 784-1000-500-250-2: test codes"),
        (embed_codes(torch.from_numpy(projected.astype(np.float32)), "scatter", 5000, 30.0, 0), "PCA: first two components"),
    ]
    panels[1][0].axis_labels = ("PC 1", "PC 2")
    images = []
    for embedding, title in panels:
        embedding.title = f"{title} ({len(embedding.index)} test images)"
        figure = latent_figure(embedding, data.test, data)
        figure.canvas.draw()
        images.append(np.asarray(figure.canvas.buffer_rgba())[..., :3])
        plt.close(figure)
    height = max(image.shape[0] for image in images)
    padded = [np.pad(image, ((0, height - image.shape[0]), (0, 0), (0, 0)), constant_values=255) for image in images]
    plt.imsave(png_path, np.concatenate(padded, axis=1))


