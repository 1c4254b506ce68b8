"""aecli finetune run=RUN_DIR labels=N: reopen a run -> train its encoder + a softmax head on N
labels, and the same network from scratch -> merge both test accuracies into metrics.json,
curves into TensorBoard, and print a table."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from aecli.commands.app import report_user_errors, use_threads

OWN_KEYS = {"run", "checkpoint", "labels", "val_labels", "epochs", "batch_size", "lr", "seed"}


@hydra.main(version_base="1.3", config_path="pkg://aecli.configs", config_name="finetune")
@report_user_errors("finetune")
def main(cfg: DictConfig) -> None:
    finetune(cfg)


def finetune(cfg: DictConfig) -> dict:
    """Compare fine-tuning with training from scratch on the run `cfg.run`; returns the metrics written."""
    import time

    from aecli.api import load_run
    from aecli.config.keys import FINETUNE
    from aecli.config.validate import validate_command_config
    from aecli.runs.open import command_overrides
    from aecli.runs.store import merge_metrics, read_metrics

    started = time.perf_counter()
    validate_command_config(cfg, FINETUNE)
    run = load_run(cfg.run, cfg.checkpoint, command_overrides(cfg, OWN_KEYS))
    use_threads(run.cfg)
    read_metrics(run.path)  # a damaged metrics.json stops us before the work, not after

    from torch.utils.tensorboard import SummaryWriter

    from aecli.evaluation.finetuning import compare_finetuning, format_comparison
    from aecli.report.tensorboard import log_finetuning

    seed = run.cfg.seed if cfg.seed is None else cfg.seed
    comparison = compare_finetuning(
        run, int(cfg.labels), cfg.val_labels, int(cfg.epochs), int(cfg.batch_size), float(cfg.lr), int(seed)
    )
    metrics = comparison.metrics()
    merge_metrics(run.path, metrics)
    with SummaryWriter(str(run.path / "tensorboard")) as writer:
        log_finetuning(writer, comparison)
    print(
        f"aecli finetune: {run.path} (checkpoint {run.checkpoint_name}, epoch {run.epoch}), {cfg.labels} train labels, "
        f"{comparison.val_labels} validation labels, {cfg.epochs} epochs, batch {cfg.batch_size}, lr {cfg.lr}, seed {seed}"
    )
    print("\n".join(format_comparison(comparison)))
    if run.experiment.data.excluded_classes:
        print(f"note: classes {list(run.experiment.data.excluded_classes)} were left out of training and count as errors in test")
    print(
        f"done in {time.perf_counter() - started:.1f}s; {', '.join(metrics)} merged into {run.path / 'metrics.json'}, "
        f"curves under finetune/{cfg.labels}/ in TensorBoard"
    )
    return metrics
