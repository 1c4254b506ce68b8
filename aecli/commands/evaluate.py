"""aecli evaluate run=RUN_DIR: reopen a run -> compute its metrics -> merge them into metrics.json,
TensorBoard and a printed table."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from aecli.errors import report_user_errors

OWN_KEYS = {"run", "checkpoint", "probe", "mig_bins", "factor_corr_method", "sparsity_threshold", "nll_iw_samples"}


@hydra.main(version_base="1.3", config_path="pkg://aecli.configs", config_name="evaluate")
@report_user_errors("evaluate")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


def evaluate(cfg: DictConfig) -> dict:
    """Score the run named by `cfg.run`; returns the metrics written."""
    import time

    from aecli.runs import command_overrides, load_run, merge_metrics, read_metrics

    started = time.perf_counter()
    run = load_run(cfg.run, cfg.checkpoint, command_overrides(cfg, OWN_KEYS))
    read_metrics(run.path)  # a damaged metrics.json stops us before the work, not after

    from torch.utils.tensorboard import SummaryWriter

    from aecli.evaluation import evaluate_run, format_report

    evaluation = evaluate_run(run, cfg)
    merge_metrics(run.path, evaluation.metrics)
    report = format_report(run, evaluation, cfg)
    with SummaryWriter(str(run.path / "tensorboard")) as writer:
        for key, value in evaluation.metrics.items():
            if key == "factor_corr":
                for i, row in enumerate(value):
                    for name, entry in zip(evaluation.factor_names, row):
                        writer.add_scalar(f"evaluate/factor_corr/z{i}_{name}", entry, run.epoch)
            else:
                writer.add_scalar(f"evaluate/{key}", value, run.epoch)
        writer.add_text("evaluate", "\n".join(f"    {line}" for line in report.splitlines()), run.epoch)
    print(report)
    print(f"evaluated in {time.perf_counter() - started:.1f}s; metrics merged into {run.path / 'metrics.json'}")
    return evaluation.metrics
