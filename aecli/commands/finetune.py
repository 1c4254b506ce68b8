"""aecli finetune run=RUN_DIR labels=N: reopen a run -> train its encoder + a softmax head on N
labels, and the same network from scratch -> merge both test accuracies into metrics.json,
curves into TensorBoard, and print a table."""

from __future__ import annotations

import time
from typing import Any

import hydra
from omegaconf import DictConfig

from aecli.commands.finished_run import check_command, open_run
from aecli.commands.user_errors import report_user_errors
from aecli.config.keys import FINETUNE
from aecli.errors import UserError


@hydra.main(version_base="1.3", config_path="pkg://aecli.configs", config_name="finetune")
@report_user_errors("finetune")
def main(cfg: DictConfig) -> None:
    started = time.perf_counter()
    run, comparison = finetune(cfg)
    print_comparison(run, comparison, time.perf_counter() - started)


def finetune(cfg: DictConfig) -> tuple[Any, Any]:
    """Compare fine-tuning with training from scratch on the run `cfg.run`, write the two test
    accuracies and the curves; returns the run and the comparison (aecli.evaluation.finetuning).
    Holds the run folder's lock (one writer per run folder), as evaluate does."""
    from aecli.runs.open import writing_into_run

    check_command(cfg, FINETUNE)
    with writing_into_run(cfg.run, "finetune"):
        return _finetune(cfg)


def _finetune(cfg: DictConfig) -> tuple[Any, Any]:
    run = open_run(cfg, FINETUNE)
    if run.experiment.data.train.labels is None:
        raise UserError(
            f"aecli finetune needs labelled data, but run {run.path} was trained on {run.cfg.dataset.name}, "
            f"which has no labels; pick a run on a labelled dataset such as mnist"
        )
    if run.model.conditional:
        raise UserError(
            f"aecli finetune predicts the label from the encoder, but run {run.path} is a conditional VAE whose encoder "
            f"takes the label as input (model.conditional=true); fine-tune a run trained without it"
        )

    from torch.utils.tensorboard import SummaryWriter

    from aecli.evaluation.finetuning import compare_finetuning
    from aecli.report.scores import log_finetuning
    from aecli.runs.store import events_folder, merge_metrics

    seed = int(run.cfg.seed if cfg.seed is None else cfg.seed)
    comparison = compare_finetuning(
        run.experiment, int(cfg.labels), cfg.val_labels, int(cfg.epochs), int(cfg.batch_size), float(cfg.lr), seed
    )
    merge_metrics(run.path, comparison.metrics())
    with SummaryWriter(str(events_folder(run.path))) as writer:
        log_finetuning(writer, comparison)
    return run, comparison


def print_comparison(run: Any, comparison: Any, seconds: float) -> None:
    from aecli.evaluation.finetuning import format_comparison

    print(
        f"aecli finetune: {run.title}, {comparison.labels} train "
        f"labels, {comparison.val_labels} validation labels, {comparison.settings}"
    )
    print("\n".join(format_comparison(comparison)))
    if run.experiment.data.excluded_classes:
        print(f"note: classes {list(run.experiment.data.excluded_classes)} were left out of training and count as errors in test")
    print(
        f"done in {seconds:.1f}s; {', '.join(comparison.metrics())} merged into {run.path / 'metrics.json'}, "
        f"curves under finetune/{comparison.labels}/ in TensorBoard"
    )
