"""Make every picture the README and the docs show, and say what made each (figures/README.md).

    python -m aecli.results.figures --data-root DATA [--runs-dir results] [--out figures] [--threads T]

- mnist_tsne.png, loss_curves.png: the README's run (README_RUN below), trained afresh: its
  tsne.png, and its train and validation loss per epoch as its TensorBoard event files hold them;
- hinton2006_2d_codes.png (docs/experiments.md): the results page's hinton2006_2d run on seed 0,
  reused from RUNS when its config is the experiment's as it stands (aecli.results.runner), else
  trained: its 2-D test codes next to the first two principal components.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from aecli.results.entries import load_entries
from aecli.engine.device import cpu_description
from aecli.results.page import _duration, _load
from aecli.results.runner import run_entry

README_RUN = ["dataset=mnist", "dataset.train_size=20000", "trainer.epochs=20", "model.latent_dim=10"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aecli.results.figures", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", default=os.environ.get("AECLI_DATA_DIR"), help="folder holding MNIST/raw (data.root)")
    parser.add_argument("--runs-dir", default="results", help="where the runs go (default: results/)")
    parser.add_argument("--out", default="figures", help="the pictures' folder (default: figures/)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads per run")
    args = parser.parse_args(argv)
    if not args.data_root:
        print("aecli.results.figures: error: pass --data-root DATA (the folder holding MNIST/raw) or set AECLI_DATA_DIR",
              file=sys.stderr)
        return 2
    out, runs = Path(args.out), Path(args.runs_dir)
    out.mkdir(parents=True, exist_ok=True)
    made = [readme_pictures(runs / "figures" / "mnist-mlp-10d", out, args.data_root, args.threads)]
    made.append(codes_next_to_pca(runs, out, args.data_root, args.threads))
    (out / "README.md").write_text(provenance_page(made))
    print(f"wrote {', '.join(str(out / name) for entry in made for name in entry['files'])} and {out / 'README.md'}")
    return 0


def readme_pictures(run_dir: Path, out: Path, data_root: str, threads: int) -> dict:
    """Train the README's run afresh; copy its t-SNE and draw its loss curves."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    command = [sys.executable, "-m", "aecli", "train", *README_RUN, f"data.root={data_root}", f"hydra.run.dir={run_dir}",
               "trainer.progress=false"]
    load, started = _load(), time.perf_counter()
    subprocess.run(command, check=True, env=os.environ | {"OMP_NUM_THREADS": str(threads), "MPLBACKEND": "Agg"})
    seconds = time.perf_counter() - started
    shutil.copyfile(run_dir / "tsne.png", out / "mnist_tsne.png")
    draw_loss_curves(run_dir, out / "loss_curves.png")
    shown = ["aecli", "train", *README_RUN, "data.root=DATA"]
    return {"files": ["mnist_tsne.png", "loss_curves.png"], "command": " ".join(shown), "seconds": seconds,
            "load": f"{load} at the start, {_load()} at the end", "threads": threads}


def draw_loss_curves(run_dir: Path, png: Path) -> None:
    """The total loss on train and val per epoch, read from the run's TensorBoard event files (what
    TensorBoard's Scalars view plots; a run reused from before the tags were renamed has them as
    train/total and val/total)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from aecli.engine.curves import curve_tag
    from aecli.report.figures import plt
    from aecli.runs.store import events_folder

    events = EventAccumulator(str(events_folder(run_dir)), size_guidance={"scalars": 0})
    events.Reload()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    tags = [curve_tag("total", split) for split in ("train", "val")]
    if tags[0] not in events.Tags()["scalars"]:
        tags = ["train/total", "val/total"]
    for tag, colour in zip(tags, ("tab:blue", "tab:orange")):
        points = events.Scalars(tag)
        ax.plot([p.step for p in points], [p.value for p in points], color=colour, lw=1.6, marker="o", ms=3, label=tag)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (nats per image)")
    ax.set_title(f"{run_dir.name}: TensorBoard scalars {tags[0]} and {tags[1]}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


def codes_next_to_pca(runs: Path, out: Path, data_root: str, threads: int) -> dict:
    """The hinton2006_2d picture from its seed-0 run on the results page (reused when current)."""
    entry = next(found for found in load_entries() if found.picture == "codes_next_to_pca")
    (out / f"{entry.experiment}_codes.png").unlink(missing_ok=True)
    load = _load()
    outcome = run_entry(entry, 0, runs, out, data_root, threads)
    if outcome.status != "completed":
        raise SystemExit(f"aecli.results.figures: {entry.experiment} seed 0 {outcome.status}: {outcome.note}")
    how = "read from its completed run folder" if outcome.reused else f"trained now, {_duration(outcome.seconds)}"
    return {"files": [f"{entry.experiment}_codes.png"], "command": f"aecli train +experiment={entry.experiment} seed=0 "
            f"data.root=DATA ({how}; revision {outcome.revision})", "seconds": outcome.seconds,
            "load": f"{load} at the start, {_load()} at the end", "threads": outcome.metrics.get("torch_threads", threads)}


def provenance_page(made: list[dict]) -> str:
    lines = ["# Figures", "", "Made by `python -m aecli.results.figures --data-root DATA` on "
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu_description()}, no GPU.", ""]
    for entry in made:
        lines += [f"- {', '.join(entry['files'])}: `{entry['command']}`; {_duration(entry['seconds'])} for the whole "
                  f"command with {entry['threads']} torch thread(s); 1-minute load average {entry['load']}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
