"""Resume a run: its own config with the few overrides allowed, and its last.pt.

last.pt holds, beside the weights and the optimizer, where training stands
(`engine.state.TrainState`) and the state of every random generator (`engine.rng`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from aecli.errors import UserError
from aecli.runs.store import read_metrics, read_run_config

if TYPE_CHECKING:
    import torch

# What may change when a run is resumed: more epochs, another device or data folder,
# a lower learning rate (say after a divergence), and what is shown or plotted. Anything
# else would make the continued run a different experiment.
RESUME_OVERRIDES = ("trainer.epochs", "trainer.lr", "trainer.device", "trainer.devices", "trainer.progress", "data.root", "data.download",
                    "trust_code")
RESUME_OVERRIDE_GROUPS = ("log.", "tsne.")

# A key every `aecli evaluate` writes into metrics.json: its absence after evaluate_after means
# the evaluation never finished.
EVALUATE_MARK = "recon_sse"


def resume_config(cfg: DictConfig, launch_dir: Path, overrides: list[str], multirun: bool) -> tuple[Path, DictConfig]:
    """The run folder named by `cfg.resume` (a folder, `latest` or a run's name: aecli.runs.find)
    and its own config (migrated to this version), with the allowed `overrides` of the command
    line applied; a UserError for anything else."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from aecli.runs.find import chosen_run

    run_dir = chosen_run(cfg.resume, "resume")
    if multirun or Path(launch_dir).resolve() != run_dir.resolve():
        raise UserError(f"resume={cfg.resume} continues one run in its own folder; run it without -m and hydra.run.dir")
    config_path = run_dir / ".hydra" / "config.yaml"
    if not config_path.is_file():
        raise UserError(f"resume={cfg.resume}: {run_dir} is not an aecli run (no .hydra/config.yaml)")
    if not (run_dir / "checkpoints" / "last.pt").is_file():
        raise UserError(
            f"resume={cfg.resume}: the run has no checkpoints/last.pt (it stopped before its first epoch ended); "
            f"start it again instead"
        )
    saved = read_run_config(config_path, "resume a folder written by aecli train", bool(cfg.get("trust_code")))
    read_metrics(run_dir)  # a damaged metrics.json is reported now, not after all the training

    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.key_or_group
        if key == "resume":
            continue
        if key not in RESUME_OVERRIDES and not key.startswith(RESUME_OVERRIDE_GROUPS):
            raise UserError(
                f"resume continues the run with its own config, so {key} cannot change; "
                f"allowed on resume: {', '.join(RESUME_OVERRIDES)}, log.*, tsne.*"
            )
        OmegaConf.update(saved, key, OmegaConf.select(cfg, key), merge=False)
    saved.resume = None
    return run_dir, saved


def load_resume_checkpoint(run_dir: Path, cfg: DictConfig, device: torch.device) -> dict[str, Any]:
    """checkpoints/last.pt of the run, checked against `cfg.trainer.epochs`; also removes the
    temporary files a crash in the middle of a checkpoint write leaves behind."""
    from aecli.runs.checkpoint import load_checkpoint

    checkpoints = run_dir / "checkpoints"
    for stale in checkpoints.glob(".*.pt.*.tmp"):
        stale.unlink(missing_ok=True)
    payload = load_checkpoint(checkpoints / "last.pt", map_location=device)
    state = payload.get("train_state")
    if not isinstance(state, dict) or not isinstance(payload.get("optimizer"), dict):
        raise UserError(f"{checkpoints / 'last.pt'} holds no training state to resume from; it was written by an older aecli")
    done, step = payload["epoch"], state["step"]
    epochs = cfg.trainer.epochs
    if isinstance(epochs, int) and (epochs < done or (epochs == done and step > 0)):
        raise UserError(f"the run has trained {done} epochs already; trainer.epochs={epochs} must be at least {done + (step > 0)}")
    patience, best = cfg.trainer.patience, state.get("best_epoch", done)
    if state.get("stop_reason") and step == 0 and patience is not None and done - best >= patience:
        raise UserError(
            f"the run stopped early after epoch {done} ({state['stop_reason']}); to train on pass trainer.patience=null "
            f"or trainer.patience=N with N > {done - best}"
        )
    metrics = read_metrics(run_dir)
    if epochs == done and step == 0 and metrics.get("status") == "completed":
        longer = f"to train longer pass trainer.epochs=N with N > {done}"
        if cfg.evaluate_after and EVALUATE_MARK not in metrics:  # stopped while evaluate_after ran
            raise UserError(
                f"the run finished its {done} epochs but not its evaluation (evaluate_after=true); complete it "
                f"with aecli evaluate run={run_dir}, or {longer}"
            )
        raise UserError(f"the run already finished its {done} epochs; {longer}")
    return payload


def after_write_failure(run_dir: Path) -> str:
    """What to do after a failed write in a train run's folder: continue the run, or (when it
    completed) redraw what is missing."""
    try:
        completed = read_metrics(run_dir).get("status") == "completed"
    except UserError:
        completed = False
    if completed:
        return f"the run itself completed (metrics.json); free space, then redraw its plots with aecli visualize-latents run={run_dir}"
    return f"free space, then continue with aecli train resume={run_dir}"
