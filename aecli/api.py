"""The Python API: reopen a finished run and use its model from your own scripts.

    import aecli
    run = aecli.load_run("outputs/2026-11-30/12-00-00")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from aecli.engine.build import Experiment


@dataclass
class Run:
    """A run rebuilt from its directory: `cfg` is its resolved config with any overrides applied."""

    path: Path
    cfg: DictConfig
    experiment: Experiment
    checkpoint_name: str
    epoch: int
    device: torch.device


def load_run(run: str | Path, checkpoint: str = "best", overrides: dict[str, Any] | None = None) -> Run:
    """Rebuild the run at `run` from `.hydra/config.yaml` (plus `overrides`, e.g. a new
    trainer.device or data.root) and load `checkpoints/<checkpoint>.pt` into its model."""
    from aecli.config.validate import validate_train_config
    from aecli.engine.build import build_experiment
    from aecli.engine.device import resolve_device
    from aecli.runs.checkpoint import load_checkpoint, load_model_state
    from aecli.runs.open import check_same_model, locate_run

    path, cfg, checkpoint_path = locate_run(run, checkpoint, overrides)

    validate_train_config(cfg)
    device = resolve_device(cfg.trainer.device)
    payload = load_checkpoint(checkpoint_path, map_location=device)
    check_same_model(payload, cfg, checkpoint_path)

    torch.manual_seed(cfg.seed)
    experiment = build_experiment(cfg, device)
    load_model_state(experiment.model, payload.get("model"), checkpoint_path)
    experiment.model.eval()
    return Run(path, cfg, experiment, checkpoint, int(payload.get("epoch", 0)), device)


