"""The run directory's safety checks, made before Hydra writes anything into it.

`RunDirGuard` is a Hydra callback (registered in configs/train.yaml). For a single run
it checks, before Hydra creates the folder and saves its config files there, that:
the folder can be created and written (a path under a file, a read-only folder or
file system is one clear line); it does not already hold another run's checkpoints
(Hydra would overwrite that run's config, training its checkpoints); and with `resume`
it is the run being resumed. Then it takes the run folder's lock (aecli.runs.lock) and
holds it until the process ends (`release_run_lock`), so the check and the run are one
step: a second train or resume on the same folder is refused with one line naming the
holder, before Hydra writes a byte there. It remembers whether this run created the
folder, so a user error before training can remove the folder again (`discard_if_unused`),
leaving no junk run directory behind; a folder that existed before is never removed.
"""

from __future__ import annotations

import shutil
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from aecli.errors import UserError
from aecli.runs.find import find_run
from aecli.runs.lock import hold_run_lock, is_lock_file
from aecli.runs.store import writable_problem

# Run directory -> the outermost folder this process created for it (at most one run).
_created: dict[Path, Path] = {}

# The lock this process holds on its run folder, from on_run_start to on_run_end (or a user error's exit).
_lock = ExitStack()

# What a run writes; a folder holding any of it is not trained over.
RUN_OUTPUTS = ("checkpoints", "metrics.json", "tensorboard")

# What Hydra itself puts in a run directory before the task starts.
HYDRA_FILES = {".hydra": {"config.yaml", "hydra.yaml", "overrides.yaml"}}

# A resumed run writes into its own folder, so "choose another hydra.run.dir" is no advice there.
RESUME_ELSEWHERE = "resume writes into the run's own folder: make it writable, or copy the run (cp -r) to a writable place and resume the copy"


class RunDirGuard(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from aecli.runs.ranks import world_from_env

        world = world_from_env()
        if world is not None and not world.main:  # rank 0 checks and holds the folder of a distributed run
            return
        try:
            run_dir = Path(str(OmegaConf.select(config, "hydra.run.dir"))).absolute()
        except Exception:  # an interpolation only Hydra's job context can resolve: leave it to Hydra
            return
        resume = config.get("resume")
        problem = _check(run_dir, resume)
        if problem is None:
            problem = _lock_for_the_run(run_dir, "train" if resume is None else "train resume")
        if problem:
            print(f"aecli {config.hydra.job.name}: error: {problem}", file=sys.stderr)
            sys.exit(2)

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        release_run_lock()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.get("resume") is not None:
            print(f"aecli {config.hydra.job.name}: error: resume continues one run in its own folder; drop -m "
                  f"(a sweep starts new runs)", file=sys.stderr)
            sys.exit(2)


def _lock_for_the_run(run_dir: Path, command: str) -> str | None:
    """Hold the run folder's lock for the rest of this process; then check again that no
    other run landed there between the first check and the lock."""
    try:
        _lock.enter_context(hold_run_lock(run_dir, command))
    except UserError as error:
        discard_if_unused()
        return str(error)
    if command == "train":
        problem = _holds_a_run(run_dir)
        if problem:
            release_run_lock()
            return problem
    return None


def release_run_lock() -> None:
    """Give up the run folder's lock taken by on_run_start (a clean end, or a user error)."""
    _lock.close()


def _holds_a_run(run_dir: Path) -> str | None:
    outputs = [name for name in RUN_OUTPUTS if (run_dir / name).exists()]
    if not outputs:
        return None
    fix = f"continue it with resume={run_dir}, or" if (run_dir / "checkpoints" / "last.pt").is_file() else "move it away, or"
    return f"{run_dir} already holds a run ({', '.join(outputs)}); {fix} choose another hydra.run.dir"


def _check(run_dir: Path, resume: Any) -> str | None:
    """What stops `run_dir` from taking this run, or None; creates the folder if it is missing."""
    if resume is not None:
        try:
            wanted = find_run(resume, "resume").absolute()  # a folder, latest or a run's name, as hydra.run.dir found it
        except UserError as error:
            return str(error)
        if run_dir.resolve() != wanted.resolve():
            return f"resume={resume} continues in that run's own directory; drop hydra.run.dir={run_dir}"
        if not wanted.is_dir():
            return f"resume={resume}: no such run directory; pass the folder of a run written by aecli train, latest or a run's name"
        if not (wanted / ".hydra" / "config.yaml").is_file():  # before anything is written there
            return f"resume={resume}: {wanted} is not an aecli run (no .hydra/config.yaml)"
        return writable_problem(run_dir, RESUME_ELSEWHERE)
    problem = _holds_a_run(run_dir)
    if problem:
        return problem
    outermost_new = next((p for p in [*reversed(run_dir.parents), run_dir] if not p.exists()), None)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"cannot create the run directory {run_dir} ({error.strerror or error}); choose another hydra.run.dir"
    problem = writable_problem(run_dir, "choose another hydra.run.dir")
    if outermost_new is not None:
        _created[run_dir] = outermost_new
        if problem:
            discard_if_unused()
    return problem


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
            elif not (entry.is_file() and (entry.suffix == ".log" or is_lock_file(entry))):
                return False
    except OSError:
        return False
    return True
