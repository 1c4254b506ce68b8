"""How a command ends on a user error: one line and its exit status, the run folder it created
left as it was found; in a sweep, the job is recorded as failed and the others go on."""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

from aecli.errors import TrainingStopped, UserError

F = TypeVar("F", bound=Callable[..., Any])


def report_user_errors(command: str) -> Callable[[F], F]:
    """Wrap a Hydra task function so a `UserError` ends the run with one line.

    A single run prints the line, removes a run directory that this run created and that
    holds nothing but Hydra's own files, and exits. In a multirun sweep the error is
    logged and re-raised instead, so Hydra marks that job failed while the launcher still
    runs the others; a graceful stop (Ctrl-C) ends the whole sweep.
    """

    def decorate(task: F) -> F:
        @functools.wraps(task)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return task(*args, **kwargs)
            except UserError as error:
                line = f"aecli {command}: {error.label}: {error}"
                if _in_multirun():
                    return _sweep_job_failed(line, error, args[0] if args else None)
                from aecli.runs.guard import discard_if_unused, release_run_lock

                discard_if_unused()
                release_run_lock()
                print(line, file=sys.stderr)
                sys.exit(error.exit_code)
            except KeyboardInterrupt:  # a second Ctrl-C, or one outside the training loop
                from aecli.runs.guard import release_run_lock

                release_run_lock()
                print(f"aecli {command}: interrupted", file=sys.stderr)
                sys.exit(130)

        return wrapper  # type: ignore[return-value]

    return decorate


def _sweep_job_failed(line: str, error: UserError, cfg: Any) -> float:
    """A sweep job's user error: printed once, recorded in the job's folder (error.txt, its
    metrics.json), and the job returns NaN, which Hydra's sweepers take as "no value" (Optuna
    marks the trial failed) instead of re-raising it before the sweep ends, so every job runs
    and the sweep's summary and "N of M jobs failed" line come at the end (aecli.runs.sweeps).
    A graceful stop (Ctrl-C, SIGTERM) ends the whole sweep, after a last summary."""
    from hydra.core.hydra_config import HydraConfig

    from aecli.runs.sweeps import record_failure, write_summary

    hydra_cfg = HydraConfig.get()
    if isinstance(error, TrainingStopped):
        if cfg is not None:
            write_summary(Path(hydra_cfg.sweep.dir), cfg.objective.metric, cfg.objective.direction)
        print(line, file=sys.stderr)
        sys.exit(error.exit_code)
    logging.getLogger("aecli").error("%s", line)
    record_failure(Path(hydra_cfg.runtime.output_dir), error, line)
    return float("nan")


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
