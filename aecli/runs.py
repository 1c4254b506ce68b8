"""Reopen a finished run directory: its config, a checkpoint, and the model and data rebuilt from them.

Shared by `aecli evaluate` and `aecli visualize-latents`. Every check happens before
anything is written, and each problem a user can fix is one `UserError` line. The checks
on paths and config come before torch is imported, so a mistyped run answers at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from aecli.errors import UserError

if TYPE_CHECKING:
    import torch

    from aecli.build import Experiment

CHECKPOINTS = ("best", "last")


@dataclass
class Run:
    """A run rebuilt from its directory: `cfg` is its resolved config with any overrides applied."""

    path: Path
    cfg: DictConfig
    experiment: Experiment
    checkpoint_name: str
    epoch: int
    device: torch.device


def command_overrides(cfg: DictConfig, own_keys: set[str]) -> dict[str, Any]:
    """The part of a command's config that is meant for the run's config: every top-level key
    the command does not own, with null leaves (the command's "keep the run's own value") dropped."""
    container = OmegaConf.to_container(cfg, resolve=True)
    return _drop_nulls({key: value for key, value in container.items() if key not in own_keys and key != "hydra"})


def load_run(run: str | Path, checkpoint: str, overrides: dict[str, Any] | None = None) -> Run:
    """Rebuild the run at `run` from `.hydra/config.yaml` (plus `overrides`, e.g. a new
    trainer.device or data.root) and load `checkpoints/<checkpoint>.pt` into its model."""
    path, cfg, checkpoint_path = locate_run(run, checkpoint, overrides)

    import torch

    from aecli.build import build_experiment
    from aecli.checkpoint import load_checkpoint, load_model_state
    from aecli.device import resolve_device

    device = resolve_device(str(OmegaConf.select(cfg, "trainer.device", default="auto")))
    payload = load_checkpoint(checkpoint_path, map_location=device)
    _check_same_model(payload, cfg, checkpoint_path)

    torch.manual_seed(int(cfg.get("seed", 0)))
    experiment = build_experiment(cfg, device)
    load_model_state(experiment.model, payload.get("model"), checkpoint_path)
    experiment.model.eval()
    return Run(path, cfg, experiment, checkpoint, int(payload.get("epoch", 0)), device)


def locate_run(run: str | Path, checkpoint: str, overrides: dict[str, Any] | None = None) -> tuple[Path, DictConfig, Path]:
    """The run's folder, its config with `overrides` applied, and the checkpoint's path, all
    checked to exist (no torch needed)."""
    path = Path(str(run)).expanduser()
    if checkpoint not in CHECKPOINTS:
        raise UserError(f"checkpoint={checkpoint} is not one of {', '.join(CHECKPOINTS)}")
    if not path.is_dir():
        raise UserError(f"run directory {path} does not exist; pass run=DIR, a directory written by aecli train")
    config_path = path / ".hydra" / "config.yaml"
    if not config_path.is_file():
        raise UserError(
            f"{path} is not an aecli run directory (no .hydra/config.yaml); pass run=DIR, a directory written by aecli train"
        )
    cfg = read_run_config(config_path, "pass run=DIR, a directory written by aecli train")
    cfg = _apply_overrides(cfg, overrides or {}, config_path)

    checkpoint_path = path / "checkpoints" / f"{checkpoint}.pt"
    if not checkpoint_path.is_file():
        other = "last" if checkpoint == "best" else "best"
        raise UserError(
            f"run {path} has no checkpoints/{checkpoint}.pt; train it to the end of an epoch first, "
            f"or try checkpoint={other}"
        )
    return path, cfg, checkpoint_path


def _apply_overrides(cfg: DictConfig, overrides: dict[str, Any], config_path: Path) -> DictConfig:
    """Merge `overrides` into the run's config; a key the run's config lacks is a typo."""
    OmegaConf.set_struct(cfg, True)
    try:
        merged = OmegaConf.merge(cfg, overrides)
    except Exception as error:  # OmegaConf's key and type errors
        key = getattr(error, "full_key", "") or ""
        raise UserError(
            f"cannot apply the override {key or 'given'} to the run's config {config_path} "
            f"({str(error).splitlines()[0]}); use only keys that config has"
        ) from None
    OmegaConf.set_struct(merged, False)
    return merged


def _check_same_model(payload: dict[str, Any], cfg: DictConfig, checkpoint_path: Path) -> None:
    """The checkpoint must come from this run's architecture and likelihood."""
    saved = payload.get("config")
    if not isinstance(saved, dict):
        raise UserError(f"{checkpoint_path} holds no config; it was not written by aecli train")
    for key in ("model", "likelihood"):
        mine = OmegaConf.to_container(cfg[key], resolve=True) if key in cfg else None
        if saved.get(key) != mine:
            raise UserError(
                f"{checkpoint_path} was written for {key} {saved.get(key)}, but the run's config says {mine}; "
                f"restore the run's .hydra/config.yaml (and give no {key}.* overrides)"
            )


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {key: _drop_nulls(item) for key, item in value.items() if item is not None}
        return {key: item for key, item in kept.items() if item != {}}
    return value


def read_run_config(config_path: Path, fix: str) -> DictConfig:
    """A run's saved .hydra/config.yaml; a UserError ending in `fix` when it is damaged or foreign."""
    try:
        cfg = OmegaConf.load(config_path)
    except Exception as error:  # YAML and OmegaConf raise many types for a damaged file
        raise UserError(f"cannot read {config_path} ({type(error).__name__}); restore the run's config file")
    if not isinstance(cfg, DictConfig) or not {"model", "dataset", "trainer"} <= set(cfg):
        raise UserError(f"{config_path} is not an aecli train config; {fix}")
    return cfg


def read_metrics(run_dir: Path) -> dict[str, Any]:
    """The run's metrics.json as a dict ({} when there is none yet)."""
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        return {}
    try:
        existing = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read {path} ({type(error).__name__}); fix it or move it away, then run again")
    if not isinstance(existing, dict):
        raise UserError(f"{path} is not one JSON object; fix it or move it away, then run again")
    return existing


def merge_metrics(run_dir: Path, metrics: dict[str, Any], drop: tuple[str, ...] = ()) -> None:
    """Add or update `metrics` in the run's metrics.json, keeping every other key but the
    `drop` ones (atomic write)."""
    from aecli.checkpoint import atomic_write

    kept = {key: value for key, value in read_metrics(run_dir).items() if key not in drop}
    text = json.dumps(kept | metrics, indent=2) + "\n"
    atomic_write(Path(run_dir) / "metrics.json", lambda handle: handle.write(text.encode()))
