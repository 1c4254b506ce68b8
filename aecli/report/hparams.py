"""What TensorBoard shows of a finished run beyond its curves: the HParams record, the final
figures, a Custom Scalars chart per loss term, and the run's closing table.

Every run writes one HParams record into its own events folder (aecli.runs.store.events_folder),
so `tensorboard --logdir SWEEP_DIR` lists all jobs of a sweep side by side. The columns are what
tells the runs apart: the chosen dataset, model, likelihood and regularizers, plus the keys the
run set on its command line (in a sweep: only the swept keys, not those every job shares). The
metric columns are the key figures: the last points of loss curves the run already draws
(`1_loss/best_val` is best.pt's validation loss) and the final figures of metrics.json (test
loss, test squared error, and what `evaluate_after` added), written once as `5_final/<key>`,
a group TensorBoard shows after the curves (aecli.engine.curves). Every figure of metrics.json is
in the Text view's `summary` table.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from aecli.engine.curves import BEST_VAL, FINAL, curve_tag

# The curves whose last points the HParams view compares (written every epoch by the loop).
METRIC_TAGS = (BEST_VAL, curve_tag("total", "val"), curve_tag("recon_sse", "val"), curve_tag("total", "train"),
               curve_tag("recon_sse", "train"))
# metrics.json's key figures, each a `5_final/<key>` scalar and an HParams column where the run has it.
FINAL_FIGURES = ("test_loss", "test_recon_sse", "recon_mse", "elbo", "nll_iw", "probe_linear_acc", "probe_knn_acc",
                 "anomaly_auroc", "mig")
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


def final_figures(metrics: dict[str, Any]) -> dict[str, float]:
    """The FINAL_FIGURES the run has, as {`5_final/<key>`: value} (finite numbers only)."""
    return {f"{FINAL}/{key}": float(metrics[key]) for key in FINAL_FIGURES
            if isinstance(metrics.get(key), (int, float)) and math.isfinite(metrics[key])}


def curves_layout(metrics: dict[str, Any]) -> dict[str, dict[str, list]]:
    """TensorBoard's Custom Scalars layout: one chart per loss term (the total first, with the best
    validation loss so far) with its train and val curves in it, for the terms metrics.json has on
    both splits."""
    terms = ["total"] + [key.removeprefix("train_") for key in metrics
                         if key.startswith("train_") and key != "train_loss" and f"val_{key.removeprefix('train_')}" in metrics]
    charts = {term: ["Multiline", [f"^{re.escape(curve_tag(term, split))}$" for split in ("train", "val")]] for term in terms}
    charts["total"][1].append(f"^{re.escape(BEST_VAL)}$")  # the best so far beside them
    return {"loss terms, train and val": charts}


def log_hparams(log_dir: Path, cfg: DictConfig, metrics: dict[str, Any], step: int, varied: list[str]) -> None:
    """Write, into the event files at `log_dir`, the HParams record of `cfg` with its key figures,
    the final figures of `metrics` at `step`, the Custom Scalars layout and the summary table."""
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    figures = final_figures(metrics)
    experiment, start, end = hparams(hyperparameters(cfg, varied), dict.fromkeys([*METRIC_TAGS, *figures], 0.0))
    with SummaryWriter(str(log_dir)) as writer:
        for summary in (experiment, start, end):
            writer.file_writer.add_summary(summary)
        for tag, value in figures.items():
            writer.add_scalar(tag, value, step)
        writer.add_custom_scalars(curves_layout(metrics))
        writer.add_text("summary", summary_table(metrics), step)


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("|", "\\|")
