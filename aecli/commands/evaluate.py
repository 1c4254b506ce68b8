"""aecli evaluate run=RUN_DIR: reopen a run -> compute its metrics -> merge them into metrics.json,
TensorBoard and a printed table."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from aecli.errors import UserError, report_user_errors

OWN_KEYS = {"run", "checkpoint", "probe", "mig_bins", "factor_corr_method", "sparsity_threshold", "nll_iw_samples"}
CORRELATIONS = ("spearman", "pearson")


@hydra.main(version_base="1.3", config_path="pkg://aecli.configs", config_name="evaluate")
@report_user_errors("evaluate")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


def evaluate(cfg: DictConfig) -> dict:
    """Score the run named by `cfg.run`; returns the metrics written."""
    import time

    from aecli.runs import command_overrides, load_run, merge_metrics, read_metrics

    started = time.perf_counter()
    check_settings(cfg)
    run = load_run(cfg.run, cfg.checkpoint, command_overrides(cfg, OWN_KEYS))
    read_metrics(run.path)  # a damaged metrics.json stops us before the work, not after

    from torch.utils.tensorboard import SummaryWriter

    from aecli.evaluation import evaluate_run, format_report, log_to_tensorboard

    evaluation = evaluate_run(run, cfg)
    merge_metrics(run.path, evaluation.metrics)
    report = format_report(run, evaluation, cfg)
    with SummaryWriter(str(run.path / "tensorboard")) as writer:
        log_to_tensorboard(writer, evaluation, report, run.epoch)
    print(report)
    print(f"evaluated in {time.perf_counter() - started:.1f}s; metrics merged into {run.path / 'metrics.json'}")
    return evaluation.metrics


def evaluate_finished_run(run_dir: Path) -> dict:
    """`aecli evaluate run=RUN_DIR` with the shipped evaluate settings: the last step of a
    train run with `evaluate_after=true`."""
    from importlib.resources import files

    from omegaconf import OmegaConf

    settings = OmegaConf.load(str(files("aecli.configs") / "evaluate.yaml"))
    for key in ("defaults", "hydra"):
        settings.pop(key)
    settings.run = str(run_dir)
    return evaluate(settings)


def check_settings(settings: DictConfig) -> None:
    """Refuse evaluate settings that cannot work, before any run is opened."""

    def positive_int(key: str, value: object, least: int = 1) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise UserError(f"{key} must be an integer >= {least}, got {value!r}")

    positive_int("probe.knn_k", settings.probe.knn_k)
    positive_int("probe.max_iter", settings.probe.max_iter)
    positive_int("mig_bins", settings.mig_bins, least=2)
    positive_int("nll_iw_samples", settings.nll_iw_samples)
    if settings.factor_corr_method not in CORRELATIONS:
        raise UserError(f"factor_corr_method={settings.factor_corr_method} is unknown; choose one of {', '.join(CORRELATIONS)}")
    threshold = settings.sparsity_threshold
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise UserError(f"sparsity_threshold must be a number > 0, got {threshold!r}")
