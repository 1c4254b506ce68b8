"""TensorBoard's HParams view and the run's closing table.

Every run writes one HParams record into its own tensorboard/ folder, so
`tensorboard --logdir SWEEP_DIR` lists all jobs of a sweep side by side. The columns are what
tells the runs apart: the chosen dataset, model, likelihood and regularizers, plus the keys the
run set on its command line (in a sweep: only the swept keys, not those every job shares). The
metric columns read the last point of loss curves the run already draws (`val/best_total` is
best.pt's validation loss), so the final figures add no single-point cards ahead of the curves;
every figure of metrics.json is in the Text view's `summary` table instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

# The curves whose last points the HParams view compares (written every epoch by the loop).
METRIC_TAGS = ("val/best_total", "val/total", "val/recon_sse", "train/total", "train/recon_sse")
CHOICES = ("dataset", "model", "likelihood")


def hyperparameters(cfg: DictConfig, varied: list[str]) -> dict[str, bool | int | float | str]:
    """The group choices and the values of the `varied` keys (lists and nulls as text, which is
    what the HParams view can show)."""
    chosen: dict[str, Any] = {group: str(OmegaConf.select(cfg, f"{group}.name", default="custom")) for group in CHOICES}
    chosen["regularizer"] = ",".join(cfg.get("regularizer") or {}) or "none"
    for key in varied:
        value = OmegaConf.select(cfg, key, default=None)
        if key in chosen or key.split(".")[0] == "hydra" or isinstance(value, DictConfig):
            continue
        if value is None or isinstance(value, (ListConfig, list)):
            value = "null" if value is None else str(list(value))
        chosen[key] = value
    return chosen


def summary_table(metrics: dict[str, Any]) -> str:
    """metrics.json as a two-column Markdown table (TensorBoard's Text view renders it)."""
    rows = [f"| {key} | {_shown(value)} |" for key, value in metrics.items() if not isinstance(value, (list, dict))]
    return "\n".join(["| metric | value |", "| --- | --- |", *rows])


def log_hparams(log_dir: Path, cfg: DictConfig, metrics: dict[str, Any], step: int, varied: list[str]) -> None:
    """Write the HParams record of `cfg` and the summary table of `metrics` into the event files at `log_dir`."""
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    experiment, start, end = hparams(hyperparameters(cfg, varied), dict.fromkeys(METRIC_TAGS, 0.0))
    with SummaryWriter(str(log_dir)) as writer:
        for summary in (experiment, start, end):
            writer.file_writer.add_summary(summary)
        writer.add_text("summary", summary_table(metrics), step)


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("|", "\\|")
