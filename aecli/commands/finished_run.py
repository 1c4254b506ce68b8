"""What every command on a finished run (evaluate, visualize-latents, encode, finetune) does first:
check its own settings, then reopen the run with the rest of its config as overrides of the run's."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from aecli.config.keys import own_keys
from aecli.config.schema import Spec, check_values, refuse_non_finite
from aecli.errors import UserError

REQUIRED_HINTS = {"run": "run=RUN_DIR, a directory written by aecli train (or run=latest, run=NAME)",
                  "labels": "labels=N, e.g. labels=100"}


def check_command(cfg: DictConfig, declarations: dict[str, Spec]) -> None:
    """A command's own settings, before any work: every required one given (one line saying how
    to give it) and every value as declared (aecli.config.keys); then `run=latest` or `run=NAME`
    becomes that run's folder, named on one line (aecli.runs.find)."""
    from omegaconf import OmegaConf

    from aecli.runs.find import chosen_run

    missing = sorted(OmegaConf.missing_keys(cfg)) or (["run"] if "run" in cfg and cfg.run is None else [])
    if missing:
        raise UserError(f"{missing[0]} is required: pass {REQUIRED_HINTS.get(missing[0], missing[0] + '=...')}")
    check_values(cfg, declarations)
    refuse_non_finite(cfg)
    cfg.run = str(chosen_run(cfg.run))


def open_run(cfg: DictConfig, declarations: dict[str, Spec], writes_metrics: bool = True) -> Any:
    """Reopen the run (`aecli.load_run`) with every key of `cfg` the command does not declare as an
    override of the run's config, hold torch to the run's `trainer.num_threads` as train does, and
    (for a command that writes metrics) refuse a damaged metrics.json before any work, not after."""
    from aecli.api import load_run
    from aecli.runs.open import command_overrides
    from aecli.runs.store import read_metrics

    run = load_run(cfg.run, cfg.checkpoint, command_overrides(cfg, own_keys(declarations)), trust_code=bool(cfg.trust_code))
    if run.cfg.trainer.num_threads is not None:
        import torch

        torch.set_num_threads(int(run.cfg.trainer.num_threads))
    if writes_metrics:
        read_metrics(run.path)
    return run
