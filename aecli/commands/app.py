"""What every command's Hydra app shares: user errors become one line and an exit code, and
the few facts a task takes from Hydra (its run folder, its command-line overrides)."""

from __future__ import annotations

import functools
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

from aecli.errors import TrainingStopped, UserError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Launch:
    """Where and how a train task runs: what Hydra knows, handed over as plain values so the
    task can be called in-process (tests, scripts) without Hydra's global state."""

    run_dir: Path
    overrides: list[str] = field(default_factory=list)  # the command line's key=value overrides
    config_name: str = "train"
    save_config_to: Path | None = None  # where Hydra keeps the run's config (None: Hydra saves none)
    multirun: bool = False
    groups: set[str] = field(default_factory=set)  # the config groups (dataset, model, ..., hydra/launcher)
    varied: list[str] = field(default_factory=list)  # the keys that tell this run apart (HParams columns)

    @classmethod
    def from_hydra(cls) -> Launch:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra_cfg = HydraConfig.get()
        subdir = hydra_cfg.output_subdir
        run_dir = Path(hydra_cfg.runtime.output_dir)
        multirun = hydra_cfg.mode == RunMode.MULTIRUN
        overrides = list(hydra_cfg.overrides.task)
        return cls(
            run_dir=run_dir,
            overrides=overrides,
            config_name=str(hydra_cfg.job.config_name),
            save_config_to=None if subdir is None else run_dir / subdir / "config.yaml",
            multirun=multirun,
            groups=set(hydra_cfg.runtime.choices),
            varied=swept_keys(Path(hydra_cfg.sweep.dir)) if multirun else override_keys(overrides),
        )


def override_keys(overrides: list[str]) -> list[str]:
    """The keys (or groups) `overrides` set, in order."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return [o.key_or_group for o in OverridesParser.create().parse_overrides(overrides)]


def swept_keys(sweep_dir: Path) -> list[str]:
    """The keys a sweep varies (`model.latent_dim=2,5` and the like, not the values every job
    shares), read from the multirun.yaml Hydra writes in the sweep folder; without it (a
    sweeper that writes none), the job's own overrides stand in."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return override_keys(list(HydraConfig.get().overrides.task))
    sweep = [str(item) for item in OmegaConf.load(path).hydra.overrides.task]
    return [o.key_or_group for o in OverridesParser.create().parse_overrides(sweep) if o.is_sweep_override()]


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


REQUIRED_HINTS = {"run": "run=RUN_DIR, a directory written by aecli train", "labels": "labels=N, e.g. labels=100"}


def check_command(cfg: Any, declarations: dict) -> None:
    """A command's own settings, before any work: every required one given (one line saying how
    to give it) and every value as declared (aecli.config.keys)."""
    from omegaconf import OmegaConf

    from aecli.config.validate import validate_command_config

    missing = sorted(OmegaConf.missing_keys(cfg)) or (["run"] if "run" in cfg and cfg.run is None else [])
    if missing:
        raise UserError(f"{missing[0]} is required: pass {REQUIRED_HINTS.get(missing[0], missing[0] + '=...')}")
    validate_command_config(cfg, declarations)


def open_run(cfg: Any, own_keys: set[str], writes_metrics: bool = True) -> Any:
    """What every command on a finished run does after `check_command`: reopen the run
    (`aecli.load_run`) with the rest of `cfg` as overrides of the run's config, hold torch to
    the run's `trainer.num_threads`, as train does, and (for a command that writes metrics)
    refuse a damaged metrics.json before any work rather than after."""
    from aecli.api import load_run
    from aecli.runs.open import command_overrides
    from aecli.runs.store import read_metrics

    run = load_run(cfg.run, cfg.checkpoint, command_overrides(cfg, own_keys))
    if run.cfg.trainer.num_threads is not None:
        import torch

        torch.set_num_threads(int(run.cfg.trainer.num_threads))
    if writes_metrics:
        read_metrics(run.path)
    return run


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
