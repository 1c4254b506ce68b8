"""aecli evaluate run=RUN_DIR: reopen a run -> compute its metrics -> merge them into metrics.json,
TensorBoard and a printed table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from aecli.commands.finished_run import check_command, open_run
from aecli.commands.user_errors import report_user_errors
from aecli.config.keys import EVALUATE, shipped_settings


@hydra.main(version_base="1.3", config_path="pkg://aecli.configs", config_name="evaluate")
@report_user_errors("evaluate")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


def evaluate(cfg: DictConfig) -> dict:
    """Score the run named by `cfg.run`; returns the metrics written. Holds the run folder's
    lock (one writer per run folder) after checking, before any work, that it can be written."""
    import time

    from aecli.runs.open import writing_into_run

    started = time.perf_counter()
    check_command(cfg, EVALUATE)
    with writing_into_run(cfg.run, "evaluate"):
        return _evaluate(cfg, started)


def _evaluate(cfg: DictConfig, started: float) -> dict:
    import time

    from aecli.runs.store import events_folder, merge_metrics

    run = open_run(cfg, EVALUATE)

    from torch.utils.tensorboard import SummaryWriter

    from aecli.evaluation.report import format_report
    from aecli.evaluation.scores import evaluate_experiment
    from aecli.report.scores import log_evaluation

    evaluation = evaluate_experiment(run.experiment, cfg)
    merge_metrics(run.path, evaluation.metrics)
    report = format_report(run.title, run.experiment, evaluation, cfg)
    with SummaryWriter(str(events_folder(run.path))) as writer:
        log_evaluation(writer, evaluation, report, run.epoch, run.path)
    print(report)
    print(f"evaluated in {time.perf_counter() - started:.1f}s; metrics merged into {run.path / 'metrics.json'}")
    return evaluation.metrics


def evaluate_finished_run(run_dir: Path, changes: Any = None) -> dict:
    """`aecli evaluate run=RUN_DIR` with the shipped evaluate settings, and `changes` to them (an
    experiment's `evaluate_with:` block, e.g. the binarized-MNIST tables' nll_iw_samples: 5000):
    the last step of a train run with `evaluate_after=true`."""
    settings = shipped_settings("evaluate")
    if changes:
        settings = OmegaConf.merge(settings, changes)
    settings.run = str(run_dir)
    return evaluate(settings)
