"""TensorBoard's HParams view for a run: its hyperparameters beside its final metrics.

Every run writes one HParams record into its own tensorboard/ folder, so
`tensorboard --logdir SWEEP_DIR` lists all jobs of a sweep side by side (one row per run,
one column per hyperparameter and per metric) and single runs compare the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

# The parts of the config that define the experiment (not where or how it is logged).
SECTIONS = ("dataset", "model", "likelihood", "regularizer", "trainer", "seed")
IGNORED = {"trainer.device", "trainer.progress", "trainer.eval_batch_size", "dataset.seed"}


def hyperparameters(cfg: DictConfig) -> dict[str, bool | int | float | str]:
    """The experiment's settings as flat `section.key` entries of plain values (lists and
    nulls as text, which is what the HParams view can show)."""
    flat: dict[str, Any] = {}
    for section in SECTIONS:
        if section in cfg:
            _flatten(section, OmegaConf.to_container(cfg[section], resolve=True) if isinstance(cfg[section], DictConfig) else cfg[section], flat)
    if "regularizer" in cfg:
        flat["regularizer"] = ",".join(cfg.regularizer) or "none"
    return {key: value for key, value in flat.items() if key not in IGNORED}


def final_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The scalar entries of metrics.json, as `hparams/<key>` tags."""
    return {
        f"hparams/{key}": float(value)
        for key, value in metrics.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def log_hparams(log_dir: Path, cfg: DictConfig, metrics: dict[str, Any], step: int) -> None:
    """Write the HParams record of `cfg` with `metrics` into the event files at `log_dir`."""
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    scores = final_metrics(metrics)
    experiment, start, end = hparams(hyperparameters(cfg), scores)
    with SummaryWriter(str(log_dir)) as writer:
        for summary in (experiment, start, end):
            writer.file_writer.add_summary(summary)
        for tag, value in scores.items():
            writer.add_scalar(tag, value, step)


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, out)
    elif value is None or isinstance(value, (list, tuple)):
        out[prefix] = str(value) if value is not None else "null"
    else:
        out[prefix] = value
