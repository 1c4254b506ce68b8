"""Runs found by what a person remembers of them, wherever a run is named (`run=` of evaluate,
visualize-latents, encode and finetune, `train resume=`, `aecli.load_run`):

- an existing path is that folder, always;
- `latest` is the run trained last under `outputs/` of the current folder;
- any other bare word is a run's name: the newest run whose folder name, after its time, is that
  word (`09-10-11_lines-mlp` is `lines-mlp`; a sweep's job `3_model.latent_dim=2` is
  `model.latent_dim=2`; `name=` sets it: aecli.runs.names).

A run here is a folder with `.hydra/config.yaml` and `checkpoints/last.pt` (one that ended before
its first epoch has nothing to evaluate or resume). "Trained last" is when its config was last
written: when train started it, or resumed it. No torch, no Hydra: a mistyped name answers at once.
"""

from __future__ import annotations

import os
from pathlib import Path

from aecli.errors import UserError

OUTPUTS = Path("outputs")  # configs/train.yaml: hydra.run.dir and hydra.sweep.dir, relative to the current folder
LATEST = "latest"
MAX_DEPTH = 4  # outputs/DATE/TIME_NAME is 2 deep, outputs/multirun/DATE/TIME/JOB 4
SHOWN_NAMES = 5  # names listed when none matches


def find_run(text: str | Path, key: str = "run", outputs: Path = OUTPUTS) -> Path:
    """The run folder `text` names: the path itself when it exists (or is no bare word: the caller
    says what is missing), else the run trained last (`latest`) or the newest run named `text`;
    a UserError naming where it looked and a few names there when none is."""
    path = Path(str(text)).expanduser()
    if path.exists() or not is_bare_word(str(text)):
        return path
    runs = runs_under(outputs)
    matching = runs if str(text) == LATEST else [run for run in runs if name_of(run) == str(text)]
    if matching:
        return matching[0]
    raise UserError(_nothing_found(str(text), key, outputs, runs))


def chosen_run(text: str | Path, key: str = "run", outputs: Path = OUTPUTS) -> Path:
    """`find_run`, saying on one line which folder `latest` or a name chose (once per process of a
    run: only its first rank speaks)."""
    from aecli.runs.ranks import world_from_env

    path = find_run(text, key, outputs)
    world = world_from_env()
    if path != Path(str(text)).expanduser() and (world is None or world.main):
        print(f"{key}={text}: {path}", flush=True)
    return path


def is_bare_word(text: str) -> bool:
    """A name or `latest`, not a path: no folder separator, not `.` or `..`, not `~`."""
    return bool(text) and text not in (".", "..") and not text.startswith("~") and "/" not in text and os.sep not in text


def name_of(run: Path) -> str:
    """A run folder's name without its time (or a sweep job's number): what `run=NAME` matches."""
    before, separator, after = run.name.partition("_")
    return after if separator else before


def runs_under(outputs: Path) -> list[Path]:
    """The run folders under `outputs` (a run's own folders are not searched), trained last first."""
    found: list[Path] = []
    _collect(outputs, MAX_DEPTH, found)
    return sorted(found, key=_trained_at, reverse=True)


def _collect(folder: Path, depth: int, found: list[Path]) -> None:
    if (folder / ".hydra" / "config.yaml").is_file() and (folder / "checkpoints" / "last.pt").is_file():
        found.append(folder)
        return
    if depth == 0:
        return
    try:
        children = [Path(entry.path) for entry in os.scandir(folder) if entry.is_dir() and not entry.name.startswith(".")]
    except OSError:  # missing or unreadable: no runs there
        return
    for child in children:
        _collect(child, depth - 1, found)


def _trained_at(run: Path) -> tuple[float, str]:
    try:
        written = (run / ".hydra" / "config.yaml").stat().st_mtime
    except OSError:  # removed while we looked
        written = 0.0
    return written, str(run)  # equal times (copies that kept them): the later folder name


def _nothing_found(text: str, key: str, outputs: Path, runs: list[Path]) -> str:
    where = f"{outputs}/ ({outputs.absolute()})"
    if not runs:
        return (f"{key}={text}: no such folder, and no finished runs (.hydra/config.yaml and checkpoints/last.pt) under "
                f"{where}; run this from the folder that holds {outputs}/, or pass {key}=RUN_DIR")
    names = list(dict.fromkeys(name_of(run) for run in runs))
    shown = ", ".join(names[:SHOWN_NAMES]) + (f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else "")
    return (f"{key}={text}: no such folder, and no run named {text} under {where}; names there, newest first: {shown} "
            f"(or pass {key}={LATEST} or {key}=RUN_DIR)")
