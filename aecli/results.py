"""Run the ready-made experiments and write RESULTS.md from their metrics.json files.

    python -m aecli.results --data-root DATA [--jobs N] [--threads T] [--out RESULTS.md] [NAME ...]

Each experiment is the real command, `aecli train +experiment=NAME data.root=DATA
hydra.run.dir=RUNS/NAME` (which ends with `aecli evaluate`), run as a subprocess with
T torch threads, N at a time. The page is rewritten after every experiment that ends, so an
interrupted run still leaves a true page: an experiment that has not finished says so. A run
folder that already holds a completed run is read, not trained again (delete it to redo it).
The hinton2006 2-D codes are drawn next to PCA in figures/hinton2006_codes.png beside the page.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

Metrics = dict[str, Any]
Figure = Callable[[Metrics, dict[str, Metrics]], str]


@dataclass
class Entry:
    label: str  # the row and the run folder
    experiment: str
    claim: str
    figure: Figure
    overrides: list[str] = field(default_factory=list)
    mnist: bool = True


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def _probes(m: Metrics) -> str:
    return f"linear probe {_pct(m['probe_linear_acc'])}, kNN probe {_pct(m['probe_knn_acc'])}"


def _sse(m: Metrics, components: str) -> str:
    return f"test squared error per image {m['recon_sse']:.2f} vs PCA-{components} {m['pca_recon_sse']:.2f}"


def _factors(names: tuple[str, ...]) -> Figure:
    def figure(m: Metrics, _: dict[str, Metrics]) -> str:
        rows = m["factor_corr"]  # latent x factor, |correlation|
        best = []
        for j, name in enumerate(names):
            column = [abs(row[j]) for row in rows]
            i = max(range(len(column)), key=column.__getitem__)
            best.append(f"{name}: z{i} ({column[i]:.2f})")
        return (
            f"{m['active_units']:g} of {len(rows)} latents active (KL {m['kl']:.2f} nats); "
            f"best latent per factor (absolute Spearman r) {', '.join(best)}; MIG {m['mig']:.2f}; test SSE {m['recon_sse']:.3g}"
        )

    return figure


def _versus(key: str, baseline: str, label: str, digits: int = 2) -> Figure:
    def figure(m: Metrics, done: dict[str, Metrics]) -> str:
        base = done.get(baseline, {}).get(key)
        compared = f" ({baseline}: {base:.{digits}f})" if isinstance(base, (int, float)) else f" ({baseline}: not run)"
        sse = done.get(baseline, {}).get("recon_sse")
        sse_text = f"; test SSE {m['recon_sse']:.2f}" + (f" ({baseline}: {sse:.2f})" if isinstance(sse, (int, float)) else "")
        return f"{label} {m[key]:.{digits}f}{compared}{sse_text}"

    return figure


EXPERIMENTS = [
    Entry("mnist_ae", "mnist_ae",
          "A 10-D bottleneck (784-1000-500-250-10) keeps the digit identity without labels.",
          lambda m, _: f"{_probes(m)}; {_sse(m, '10')}"),
    Entry("hinton2006", "hinton2006",
          "784-1000-500-250-30 autoencoder: test squared error per image 3.00, PCA-30 13.87 (Hinton & Salakhutdinov 2006).",
          lambda m, _: _sse(m, "30")),
    Entry("hinton2006_2d", "hinton2006",
          "The 2-D codes of 784-1000-500-250-2 separate the digits far better than the first two principal components.",
          lambda m, _: f"{_sse(m, '2')}; {_probes(m)}; codes next to PCA: [figures/hinton2006_codes.png](figures/hinton2006_codes.png)",
          overrides=["model.latent_dim=2"]),
    Entry("linear_pca", "linear_pca",
          "A linear autoencoder with squared error spans the PCA subspace.",
          lambda m, _: f"largest principal angle to PCA-10 {m['pca_angle_deg']:.1f} deg; {_sse(m, '10')}"),
    Entry("variance_mnist_ae", "variance_mnist_ae",
          "variance-MNIST, 10-D code: a plain autoencoder (squared error) fails.",
          lambda m, _: _probes(m)),
    Entry("variance_mnist_dae", "variance_mnist_dae",
          "The same 10-D code budget: a denoising autoencoder succeeds.",
          lambda m, _: _probes(m)),
    Entry("variance_mnist_vae", "variance_mnist_vae",
          "The same 10-D code budget: a VAE with a variance-modelling decoder succeeds.",
          lambda m, _: f"{_probes(m)}; {m['active_units']:g} of 10 latents active"),
    Entry("conv_dae", "conv_dae",
          "A convolutional denoising autoencoder (Gaussian noise 0.5) reconstructs clean digits from noisy ones.",
          lambda m, _: f"{_sse(m, '10')} (clean input); {_probes(m)}"),
    Entry("sparse_mnist", "sparse_mnist",
          "A KL sparsity penalty makes the code sparse (compare with mnist_ae).",
          _versus("code_sparsity", "mnist_ae", "fraction of code entries below 0.1:")),
    Entry("contractive_mnist", "contractive_mnist",
          "A contractive penalty shrinks the encoder Jacobian (compare with mnist_ae).",
          _versus("jacobian_fro", "mnist_ae", "mean squared Frobenius norm of the encoder Jacobian", digits=3)),
    Entry("oscillation_vae", "oscillation_vae",
          "Damped oscillations, 3 latents: two take k and b, one is unused.",
          _factors(("k", "b")), mnist=False),
    Entry("lines_vae", "lines_vae",
          "Lines y = a x + b, 2 latents: one for a, one for b.",
          _factors(("a", "b")), mnist=False),
    Entry("lines_vae3", "lines_vae3",
          "Lines, 3 latents: two carry a and b, one is unused.",
          _factors(("a", "b")), mnist=False),
    Entry("lines_noisy", "lines_noisy",
          "Noisy lines (noise std 0.5): the VAE still finds a and b.",
          _factors(("a", "b")), mnist=False),
]


@dataclass
class Outcome:
    status: str  # completed | failed | pending | running
    seconds: float | None = None
    metrics: Metrics = field(default_factory=dict)
    note: str = ""
    reused: bool = False  # read from a run folder an earlier invocation completed


def run_entry(entry: Entry, runs_dir: Path, figures_dir: Path, data_root: str | None, threads: int) -> Outcome:
    """Train (and evaluate) one experiment in runs_dir/<label>, or read a completed run there."""
    run_dir = runs_dir / entry.label
    done = _read_completed(run_dir)
    if done is not None:
        done.reused = True
        _draw_figures(entry, run_dir, figures_dir)
        return done
    command = [sys.executable, "-m", "aecli", "train", f"+experiment={entry.experiment}", *entry.overrides,
               f"hydra.run.dir={run_dir}", "trainer.progress=false"]
    if entry.mnist and data_root:
        command.append(f"data.root={data_root}")
    env = os.environ | {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "MPLBACKEND": "Agg"}
    runs_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(runs_dir / f"{entry.label}.log", "w") as log:
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
    seconds = time.perf_counter() - started
    if code != 0:
        lines = (runs_dir / f"{entry.label}.log").read_text().strip().splitlines()
        return Outcome("failed", seconds, note=f"exit {code}: {lines[-1] if lines else ''}")
    (run_dir / "results_seconds.json").write_text(json.dumps({"wall_seconds": seconds}) + "\n")
    outcome = _read_completed(run_dir)
    if outcome is None:
        return Outcome("failed", seconds, note="no completed metrics.json")
    _draw_figures(entry, run_dir, figures_dir)
    return outcome


def _draw_figures(entry: Entry, run_dir: Path, figures_dir: Path) -> None:
    """The figures the page links to, drawn from a completed run when they are missing."""
    if entry.label == "hinton2006_2d" and not (figures_dir / "hinton2006_codes.png").is_file():
        figures_dir.mkdir(parents=True, exist_ok=True)
        draw_codes_next_to_pca(run_dir, figures_dir / "hinton2006_codes.png")


def _read_completed(run_dir: Path) -> Outcome | None:
    from aecli.errors import UserError
    from aecli.runs import read_metrics

    try:
        metrics = read_metrics(run_dir)
        seconds = json.loads((run_dir / "results_seconds.json").read_text())["wall_seconds"]
    except (UserError, OSError, ValueError, KeyError):
        return None
    if metrics.get("status") != "completed" or "recon_sse" not in metrics:
        return None
    return Outcome("completed", seconds, metrics)


def draw_codes_next_to_pca(run_dir: Path, png_path: Path) -> None:
    """The 2-D codes of the test images beside their projection on the first two principal
    components of the train images (the figure of Hinton & Salakhutdinov 2006)."""
    import numpy as np

    from aecli.latents import embed_codes, latent_figure
    from aecli.metrics import fit_pca
    from aecli.reporting import plt
    from aecli.runs import load_run
    from aecli.training import encode_split

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


def write_page(path: Path, entries: list[Entry], outcomes: dict[str, Outcome], command: str, started: datetime,
               loads: list[str]) -> None:
    done = {label: outcome.metrics for label, outcome in outcomes.items() if outcome.status == "completed"}
    lines = [
        "# Results",
        "",
        "Every figure below comes from one run of the command printed under the table, on the machine",
        "described there; nothing is copied from elsewhere. Each experiment is `aecli train +experiment=NAME`",
        "(see configs/experiment/NAME.yaml for what it reproduces and what to look at), which trains and then",
        "runs `aecli evaluate` on the best checkpoint; the figures are that run's metrics.json on the test split.",
        "",
        "| experiment | the lecture notes' claim | our figure | time | device |",
        "| --- | --- | --- | --- | --- |",
    ]
    for entry in entries:
        outcome = outcomes.get(entry.label, Outcome("pending"))
        name = entry.experiment + (f" `{' '.join(entry.overrides)}`" if entry.overrides else "")
        if outcome.status == "completed":
            try:
                figure = entry.figure(outcome.metrics, done)
            except (KeyError, TypeError, ValueError, IndexError) as error:
                figure = f"metrics.json lacks {error}"
            threads = outcome.metrics.get("torch_threads", "?")
            device = f"{outcome.metrics.get('device', '?')}, {threads} torch thread{'' if threads == 1 else 's'}"
            time_text = _duration(outcome.seconds)
        else:
            figure = {"failed": f"failed: {outcome.note}", "running": "still running when this page was written",
                      "pending": "not run: the results run had not reached it when this page was written"}[outcome.status]
            device = ""
            time_text = _duration(outcome.seconds) if outcome.seconds else ""
        cells = [name, entry.claim, figure, time_text, device]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    finished = sum(outcome.status == "completed" for outcome in outcomes.values())
    reused = [label for label, outcome in outcomes.items() if outcome.reused]
    reused_text = (f"; {len(reused)} of them ({', '.join(reused)}) read from their run folders, completed there by "
                   f"earlier invocations of this script with the same settings" if reused else "")
    lines += [
        "",
        f"Made by (started {started:%Y-%m-%d %H:%M} UTC, {finished} of {len(entries)} experiments completed{reused_text}):",
        "",
        "```",
        command,
        "```",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPU cores ({_cpu_name()}), no GPU used; "
        f"time is the wall time of the whole command (train, t-SNE, evaluate), which shared the cores with "
        f"other work: load average (1, 5, 15 min) {'; '.join(loads)}.",
        "",
    ]
    path.write_text("\n".join(lines))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _load() -> str:
    try:
        return ", ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aecli.results", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="experiments to run (default: all)")
    parser.add_argument("--data-root", default=os.environ.get("AECLI_DATA_DIR"), help="folder holding MNIST/raw (data.root)")
    parser.add_argument("--runs-dir", default="results", help="where the run folders go (default: results/)")
    parser.add_argument("--out", default="RESULTS.md", help="the page to write (default: RESULTS.md)")
    parser.add_argument("--jobs", type=int, default=1, help="experiments run at once (default 1)")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 1)), help="torch threads per experiment")
    args = parser.parse_args(argv)

    known = {entry.label for entry in EXPERIMENTS}
    unknown = [name for name in args.names if name not in known]
    if unknown:
        print(f"aecli.results: error: unknown experiment {unknown[0]!r}; choose from {', '.join(sorted(known))}", file=sys.stderr)
        return 2
    entries = [entry for entry in EXPERIMENTS if not args.names or entry.label in args.names]
    command = "python -m aecli.results " + " ".join(shlex.quote(arg) for arg in (argv if argv is not None else sys.argv[1:]))
    runs_dir, out = Path(args.runs_dir), Path(args.out)
    started = datetime.now(timezone.utc)
    loads = [f"{_load()} at the start"]
    outcomes: dict[str, Outcome] = {}
    lock = threading.Lock()

    def one(entry: Entry) -> None:
        with lock:
            outcomes[entry.label] = Outcome("running")
        print(f"{entry.label}: running", flush=True)
        outcome = run_entry(entry, runs_dir, out.parent / "figures", args.data_root, args.threads)
        with lock:
            outcomes[entry.label] = outcome
            write_page(out, entries, outcomes, command, started, [*loads, f"{_load()} after {entry.label}"])
        print(f"{entry.label}: {outcome.status} in {_duration(outcome.seconds)} {outcome.note}", flush=True)

    write_page(out, entries, outcomes, command, started, loads)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(one, entries))
    loads.append(f"{_load()} at the end")
    write_page(out, entries, outcomes, command, started, loads)
    failed = [label for label, outcome in outcomes.items() if outcome.status != "completed"]
    print(f"wrote {out}; " + (f"failed: {', '.join(failed)}" if failed else "all experiments completed"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
