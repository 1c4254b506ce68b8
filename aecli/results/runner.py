"""Run one experiment of the results page (the real `aecli train +experiment=NAME` command, which
ends with `aecli evaluate`) or read a run folder that already completed it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
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

    @property
    def revision(self) -> str:
        """The aecli revision the run was trained with (aecli.runs.provenance), or its version."""
        return str(self.metrics.get("git_revision") or self.metrics.get("aecli_version") or "unknown")


def run_dir_of(runs_dir: Path, entry: Entry, seed: int) -> Path:
    return runs_dir / entry.label / f"seed{seed}"


def overrides_of(entry: Entry, seed: int, data_root: str | None) -> list[str]:
    """The command line of one experiment's run, but its folder."""
    return [f"+experiment={entry.experiment}", f"seed={seed}", "trainer.progress=false",
            *([f"data.root={data_root}"] if entry.mnist and data_root else [])]


_COMPOSING = threading.Lock()  # Hydra's compose API keeps global state: one composition at a time (--jobs runs threads)


def expected_hash(entry: Entry, seed: int, data_root: str | None) -> dict[str, str]:
    """The config hashes (aecli.runs.provenance) a run of this experiment and seed records: its
    experiment YAML as it stands now, composed as `aecli train` composes it."""
    from hydra import compose, initialize_config_module

    from aecli.runs.names import register_resolvers
    from aecli.runs.provenance import hashes

    register_resolvers()
    with _COMPOSING, initialize_config_module("aecli.configs", version_base="1.3"):
        return hashes(compose("train", overrides=overrides_of(entry, seed, data_root)))


def run_entry(entry: Entry, seed: int, runs_dir: Path, figures_dir: Path, data_root: str | None,
              threads: int) -> Outcome:
    """Train (and evaluate) one experiment with one seed in runs_dir/<label>/seed<seed>, or read a
    completed run there whose config is the experiment's as it stands (its hashes match); a run
    folder that is not is moved to runs_dir/<label>/stale/ and the run made again, saying why."""
    run_dir = run_dir_of(runs_dir, entry, seed)
    done, why_not = _read_completed(run_dir, expected_hash(entry, seed, data_root))
    if done is not None:
        done.reused = True
        _draw_figures(entry, seed, run_dir, figures_dir)
        return done
    rerun = ""
    if run_dir.exists():
        stale = run_dir.parent / "stale" / f"{run_dir.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        stale.parent.mkdir(parents=True, exist_ok=True)
        run_dir.rename(stale)
        rerun = f"(made again: the earlier run {why_not}; it is kept in {stale})"
        print(f"{entry.label} seed {seed}: {rerun}", flush=True)
    command = [sys.executable, "-m", "aecli", "train", *overrides_of(entry, seed, data_root), f"hydra.run.dir={run_dir}"]
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
    outcome, why_not = _read_completed(run_dir, None)
    if outcome is None:
        return Outcome("failed", seconds, note=f"the run {why_not}")
    outcome.note = rerun
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


def _read_completed(run_dir: Path, expected: dict[str, str] | None) -> tuple[Outcome | None, str]:
    """The completed run in `run_dir` as an Outcome, when its settings are the ones `expected` (the
    composed config's hashes; None: any) and its saved config is as it was trained; else None and
    why not, in words. A run that recorded settings hashes is compared by them (keys added to aecli
    since, at their old values, change nothing); an older one by its exact config hash."""
    from aecli.errors import UserError
    from aecli.runs.provenance import config_hash, settings_hash
    from aecli.runs.safe_yaml import read_yaml_config

    from aecli.runs.store import read_metrics

    try:
        metrics = read_metrics(run_dir)
        record = json.loads((run_dir / "results_seconds.json").read_text())
        seconds = record["wall_seconds"]
        saved_config = read_yaml_config(run_dir / ".hydra" / "config.yaml")
    except (UserError, OSError, ValueError, KeyError):
        return None, "did not complete (its metrics.json, results_seconds.json or config is missing or damaged)"
    if metrics.get("status") != "completed" or "recon_sse" not in metrics:
        return None, f"did not complete (status {metrics.get('status', 'unknown')}, or no evaluate figures)"
    if "config_hash" not in metrics:
        return None, "was written before runs recorded their config hash"
    kind = "settings_hash" if "settings_hash" in metrics else "config_hash"
    if expected is not None and metrics[kind] != expected[kind]:
        return None, f"was made with other settings ({kind.replace('_', ' ')} {metrics[kind]}; the experiment's is now {expected[kind]})"
    saved = settings_hash(saved_config) if kind == "settings_hash" else config_hash(saved_config)
    if metrics.get(f"saved_{kind}") != saved:
        return None, f"has a .hydra/config.yaml edited after training (hash {saved}, trained with {metrics.get(f'saved_{kind}')})"
    return Outcome("completed", seconds, metrics, load=record.get("load_1min")), ""


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


