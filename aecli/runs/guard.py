"""The run directory's safety checks, made before Hydra writes anything into it.

`RunDirGuard` is a Hydra callback (registered in configs/train.yaml). For a single run
it checks, before Hydra creates the folder and saves its config files there, that:
the folder can be created and written (a path under a file, a read-only folder or
file system is one clear line); it does not already hold another run's checkpoints
(Hydra would overwrite that run's config, training its checkpoints); and with `resume`
it is the run being resumed. It remembers whether this run created the folder, so a
user error before training can remove the folder again (`discard_if_unused`), leaving
no junk run directory behind; a folder that existed before is never removed.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

# Run directory -> the outermost folder this process created for it (at most one run).
_created: dict[Path, Path] = {}

# What a run writes; a folder holding any of it is not trained over.
RUN_OUTPUTS = ("checkpoints", "metrics.json", "tensorboard")

# What Hydra itself puts in a run directory before the task starts.
HYDRA_FILES = {".hydra": {"config.yaml", "hydra.yaml", "overrides.yaml"}}


class RunDirGuard(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            run_dir = Path(str(OmegaConf.select(config, "hydra.run.dir"))).absolute()
        except Exception:  # an interpolation only Hydra's job context can resolve: leave it to Hydra
            return
        problem = _check(run_dir, config.get("resume"))
        if problem:
            print(f"aecli {config.hydra.job.name}: error: {problem}", file=sys.stderr)
            sys.exit(2)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.get("resume") is not None:
            print(f"aecli {config.hydra.job.name}: error: resume continues one run; drop -m", file=sys.stderr)
            sys.exit(2)


def _check(run_dir: Path, resume: Any) -> str | None:
    """What stops `run_dir` from taking this run, or None; creates the folder if it is missing."""
    if resume is not None:
        wanted = Path(str(resume)).expanduser().absolute()
        if run_dir.resolve() != wanted.resolve():
            return f"resume={resume} continues in that run's own directory; drop hydra.run.dir={run_dir}"
        if not wanted.is_dir():
            return f"resume={resume}: no such run directory; pass the folder of a run written by aecli train"
        return _writable(run_dir)
    outputs = [name for name in RUN_OUTPUTS if (run_dir / name).exists()]
    if outputs:
        fix = f"continue it with resume={run_dir}, or" if (run_dir / "checkpoints" / "last.pt").is_file() else "move it away, or"
        return f"{run_dir} already holds a run ({', '.join(outputs)}); {fix} choose another hydra.run.dir"
    outermost_new = next((p for p in [*reversed(run_dir.parents), run_dir] if not p.exists()), None)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"cannot create the run directory {run_dir} ({error.strerror or error}); choose another hydra.run.dir"
    problem = _writable(run_dir)
    if outermost_new is not None:
        _created[run_dir] = outermost_new
        if problem:
            discard_if_unused()
    return problem


def _writable(folder: Path) -> str | None:
    # Trying beats os.access, which says yes to root everywhere.
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return f"cannot write in the run directory {folder} ({error.strerror or error}); choose another hydra.run.dir"
    return None


def discard_if_unused() -> None:
    """Remove the run directory this process created when it holds only Hydra's own files,
    and the empty folders created above it (say outputs/<date>/)."""
    for run_dir, outermost_new in list(_created.items()):
        del _created[run_dir]
        if not _only_hydra_files(run_dir):
            continue
        shutil.rmtree(run_dir, ignore_errors=True)
        folder = run_dir.parent
        while outermost_new in (folder, *folder.parents):
            try:
                folder.rmdir()  # only while empty
            except OSError:
                break
            folder = folder.parent


def _only_hydra_files(run_dir: Path) -> bool:
    try:
        for entry in run_dir.iterdir():
            if entry.is_dir() and entry.name in HYDRA_FILES:
                if not {child.name for child in entry.iterdir()} <= HYDRA_FILES[entry.name]:
                    return False
            elif not (entry.is_file() and entry.suffix == ".log"):
                return False
    except OSError:
        return False
    return True
