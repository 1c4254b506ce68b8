"""RESULTS.md: one row per experiment with its claim, the anchor figure, its targets, ours over the
seeds, whether every seed met the targets, time and device."""

from __future__ import annotations

import os
import platform
import statistics
from datetime import datetime
from pathlib import Path

from aecli.config import glossary
from aecli.engine.device import cpu_description
from aecli.results.entries import Entry, Metrics, describe, figure
from aecli.results.runner import Outcome

Key = tuple[str, int]  # (experiment, seed)


def write_page(path: Path, entries: list[Entry], outcomes: dict[Key, Outcome], seeds: list[int], command: str,
               started: datetime, loads: list[str]) -> None:
    done = {entry.label: [outcomes[entry.label, seed].metrics for seed in seeds
                          if outcomes.get((entry.label, seed), Outcome("pending")).status == "completed"]
            for entry in entries}
    rows, verdicts = zip(*(_row(entry, outcomes, seeds, done) for entry in entries)) if entries else ((), ())
    lines = [
        "# Results",
        "",
        "Every figure below comes from the runs of the command printed under the table, on the machine",
        "described there; nothing is copied from elsewhere. Each experiment is `aecli train +experiment=NAME",
        "seed=S` (see configs/experiment/NAME.yaml for what it reproduces and what to look at), which trains",
        "and then runs `aecli evaluate` on the best checkpoint; the figures are those runs' metrics.json on the",
        f"test split, as mean ± standard deviation over the seeds {', '.join(map(str, seeds))}. A target holds only",
        "when it holds on every seed; where it does not, the target column says so and names the seed.",
        "Each configuration was tuned on the seeds its `tuned on` column names: a target met on those seeds",
        "is what the tuning reached, and only a target met on other seeds (`held out`) is evidence that it holds.",
        "A run is reused only when it was composed from its experiment's settings as they stand and its saved",
        "config is unchanged since (the hashes in its metrics.json); the revision column is the aecli commit it ran.",
        "",
        _summary(dict(zip((entry.label for entry in entries), verdicts))),
        "",
        "| experiment | the lecture notes' claim | anchor | target | our figure | target met | tuned on | time per run | device | revision |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
    ]
    runs = [outcome for outcome in outcomes.values() if outcome.status == "completed"]
    reused = sum(outcome.reused for outcome in runs)
    reused_text = (f"; {reused} of them read from their run folders, completed there by earlier invocations of "
                   f"this script with the same settings" if reused else "")
    lines += [
        "",
        f"Made by (started {started:%Y-%m-%d %H:%M} UTC, {len(runs)} of {len(entries) * len(seeds)} runs "
        f"completed{reused_text}):",
        "",
        "```",
        command,
        "```",
        "",
        f"Machine: {platform.platform()}, {cpu_description()}, no GPU used. Time per run is "
        f"the mean wall time of one seed's whole command (train, t-SNE, evaluate). The 1-minute load average "
        f"when each run started and ended ranged over {_load_range(runs)}: with {os.cpu_count()} cores, a load "
        f"above {os.cpu_count()} means the runs shared the cores with other work and took longer than on an idle "
        f"machine. This invocation's load average (1, 5, 15 min): {'; '.join(loads)}.",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def _summary(verdicts: dict[str, str]) -> str:
    """The line above the table: how many experiments met their targets on every seed, which missed."""
    scored = [label for label, text in verdicts.items() if text]
    missed = [label for label in scored if verdicts[label].startswith("**missed**")]
    met = [label for label in scored if verdicts[label].startswith("yes")]
    pending = [label for label in scored if label not in met and label not in missed]
    return (f"**Targets met on every seed: {len(met)} of the {len(scored)} experiments with a target**"
            + (f"; missed: {', '.join(missed)}" if missed else "")
            + (f"; not yet run on every seed: {', '.join(sorted(pending))}" if pending else "") + ".")


def _row(entry: Entry, outcomes: dict[Key, Outcome], seeds: list[int], done: dict[str, list[Metrics]]) -> tuple[str, str]:
    mine = {seed: outcomes.get((entry.label, seed), Outcome("pending")) for seed in seeds}
    completed = {seed: outcome for seed, outcome in mine.items() if outcome.status == "completed"}
    figure = device = time_text = ""
    if completed:
        try:
            figure = describe(entry, [outcome.metrics for outcome in completed.values()], done)
        except (KeyError, TypeError, ValueError, IndexError) as error:
            figure = f"metrics.json lacks {error}"
        if entry.picture == "codes_next_to_pca" and 0 in completed:  # drawn by the runner from seed 0
            png = f"figures/{entry.experiment}_codes.png"
            figure += f"; seed 0's codes next to PCA: [{png}]({png})"
        first = next(iter(completed.values())).metrics
        threads = first.get("torch_threads", "?")
        device = f"{first.get('device', '?')}, {threads} torch thread{'' if threads == 1 else 's'}"
        time_text = _duration(statistics.fmean(outcome.seconds for outcome in completed.values()))
    missing = [f"seed {seed} {_status_words(outcome)}" for seed, outcome in mine.items() if outcome.status != "completed"]
    if entry.long and not completed and all(outcome.status == "pending" for outcome in mine.values()):
        missing = [f"not run: days of training on a few cores; `python -m aecli.results {entry.experiment}` runs it"]
    if missing:
        figure = "; ".join(filter(None, [figure, *missing]))
    target = "; ".join(target.words() for target in entry.targets) or "none (the claim is shown, not scored)"
    met = verdict(entry, completed, seeds, done)
    tuned = f"seeds {', '.join(map(str, entry.tuned_on))}{_held_out(entry, seeds)}" if entry.tuned_on else "none stated"
    revision = ", ".join(dict.fromkeys(outcome.revision for outcome in completed.values()))
    cells = [entry.experiment, entry.claim, entry.anchor, target, figure, met, tuned, time_text, device, revision]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |", met


def verdict(entry: Entry, completed: dict[int, Outcome], seeds: list[int], done: dict[str, list[Metrics]]) -> str:
    """`yes (seeds 0, 1, 2)`, or **missed** with each failing seed and its figure."""
    if not entry.targets:
        return ""
    misses = []
    for target in entry.targets:
        bound = target.bound(done)
        spec = glossary.fmt(target.figure)
        for seed, outcome in completed.items():
            try:
                value = figure(entry, outcome.metrics, target.figure)
            except (KeyError, TypeError, ValueError, IndexError):
                misses.append(f"seed {seed}: no {target.figure}")
                continue
            if bound is None or not target.holds(value, bound):
                misses.append(f"seed {seed}: {target.figure} {glossary.value_text(value, spec)}")
    if misses:
        return "**missed**: " + ", ".join(misses)
    if len(completed) < len(seeds):
        return f"so far (seeds {', '.join(map(str, completed))} of {', '.join(map(str, seeds))})"
    return f"yes (seeds {', '.join(map(str, seeds))})"


def _held_out(entry: Entry, seeds: list[int]) -> str:
    """Whether `seeds` are the ones the configuration was tuned on, held out from it, or both."""
    tuned = [seed for seed in seeds if seed in entry.tuned_on]
    if not tuned:
        return f" (seeds {', '.join(map(str, seeds))} held out)"
    if len(tuned) == len(seeds):
        return " (the same seeds: not held out)"
    return f" (seeds {', '.join(str(seed) for seed in seeds if seed not in tuned)} held out)"


def _status_words(outcome: Outcome) -> str:
    return {"failed": f"failed: {outcome.note}", "running": "still running when this page was written",
            "pending": "not run yet when this page was written"}[outcome.status]


def _load_range(runs: list[Outcome]) -> str:
    values = [value for outcome in runs for value in (outcome.load or []) if value is not None]
    return f"{min(values):.1f} to {max(values):.1f}" if values else "not recorded"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _load() -> str:
    try:
        return ", ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


