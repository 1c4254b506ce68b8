"""RESULTS.md: one row per experiment with its claim, the anchor figure, ours, time and device."""

from __future__ import annotations

import os
import platform
from datetime import datetime
from pathlib import Path

from aecli.results.entries import Entry, describe
from aecli.results.runner import Outcome


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
        "| experiment | the lecture notes' claim | anchor | our figure | time | device |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for entry in entries:
        outcome = outcomes.get(entry.label, Outcome("pending"))
        name = entry.experiment
        if outcome.status == "completed":
            try:
                figure = describe(entry, outcome.metrics, done)
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
        cells = [name, entry.claim, entry.anchor, figure, time_text, device]
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


