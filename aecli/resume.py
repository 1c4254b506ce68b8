"""Resume a run: its own config with the few overrides allowed, its last.pt, and the
random generators' states.

last.pt holds, beside the weights and the optimizer, where training stands
(`training.FitResult`) and the state of every random generator the loop may draw from:
torch's CPU generator, CUDA's and MPS's when in use, Python's and NumPy's. So batch
order, corruption noise and VAE samples continue the same sequence, and a resumed run
ends where an uninterrupted one would.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from aecli.errors import UserError
from aecli.runs import read_metrics, read_run_config

# What may change when a run is resumed: more epochs, another device or data folder,
# a lower learning rate (say after a divergence), and what is shown or plotted. Anything
# else would make the continued run a different experiment.
RESUME_OVERRIDES = ("trainer.epochs", "trainer.lr", "trainer.device", "trainer.progress", "data.root", "data.download")
RESUME_OVERRIDE_GROUPS = ("log.", "tsne.")


def capture_rng() -> dict[str, Any]:
    """The state of every generator training may draw from, as plain tensors and numbers."""
    version, mt_state, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": [version, list(mt_state), gauss],
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
    }
    if torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    version, mt_state, gauss = state["python"]
    random.setstate((version, tuple(mt_state), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.cpu().numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        states = state["cuda"][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all([s.cpu() for s in states])
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"].cpu())


def resume_config(cfg: DictConfig, hydra_cfg: DictConfig) -> tuple[Path, DictConfig]:
    """The run folder named by `cfg.resume` and its own config, with the allowed overrides
    of the command line applied; a UserError for anything else."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode

    run_dir = Path(str(cfg.resume)).expanduser()
    if hydra_cfg.mode == RunMode.MULTIRUN or Path(hydra_cfg.runtime.output_dir).resolve() != run_dir.resolve():
        raise UserError(f"resume={cfg.resume} continues one run in its own folder; run it without -m and hydra.run.dir")
    config_path = run_dir / ".hydra" / "config.yaml"
    if not config_path.is_file():
        raise UserError(f"resume={cfg.resume}: {run_dir} is not an aecli run (no .hydra/config.yaml)")
    if not (run_dir / "checkpoints" / "last.pt").is_file():
        raise UserError(
            f"resume={cfg.resume}: the run has no checkpoints/last.pt (it stopped before its first epoch ended); "
            f"start it again instead"
        )
    saved = read_run_config(config_path, "resume a folder written by aecli train")

    for override in OverridesParser.create().parse_overrides(list(hydra_cfg.overrides.task)):
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
    from aecli.checkpoint import load_checkpoint

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
    metrics_path = run_dir / "metrics.json"
    if epochs == done and step == 0 and metrics_path.is_file():
        try:
            finished = read_metrics(run_dir).get("status") == "completed"
        except UserError:  # a damaged metrics.json does not block continuing the run
            finished = False
        if finished:
            raise UserError(f"the run already finished its {done} epochs; to train longer pass trainer.epochs=N with N > {done}")
    return payload
