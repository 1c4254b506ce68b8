"""What the scores of a finished run look like in TensorBoard and beside it: `aecli evaluate`'s
table as text and the ROC of the classes left out of training (roc.png), and `aecli finetune`'s
curves."""

from __future__ import annotations

from typing import Any

from aecli.report.figures import plt
from aecli.report.pictures import write_picture


def roc_figure(anomaly: Any) -> plt.Figure:
    """The ROC of an `aecli.evaluation.downstream.Anomaly`, with the chance diagonal."""
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    ax.plot(anomaly.false_positive_rate, anomaly.true_positive_rate, color="tab:red", lw=1.6,
            label=f"{anomaly.score_name}, AUROC {anomaly.auroc:.3f}")
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--", label="chance")
    ax.set_xlabel("false positive rate (normal test samples flagged)")
    ax.set_ylabel("true positive rate (anomalies flagged)")
    ax.set_title(f"classes {', '.join(map(str, anomaly.classes))} left out of training", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_aspect("equal")
    fig.tight_layout()
    return fig


def log_evaluation(writer: Any, evaluation: Any, report: str, step: int, run_dir: Any) -> None:
    """The evaluate report as one text entry at `step` (TensorBoard's Text view), not as a
    single-point scalar card per figure ahead of the loss curves (the figures are in
    metrics.json); where classes were left out of training, the ROC as `evaluate/roc` and
    `run_dir`/roc.png."""
    writer.add_text("evaluate", "\n".join(f"    {line}" for line in report.splitlines()), step)
    if evaluation.anomaly is not None:
        write_picture(writer, "evaluate/roc", roc_figure(evaluation.anomaly), run_dir / "roc.png", step)


def log_finetuning(writer: Any, comparison: Any) -> None:
    """`aecli finetune`'s curves, per epoch: finetune/<N>/<pretrained|scratch>/train_loss (nats
    per sample) and val_acc, and each network's test accuracy at its best epoch."""
    for name in ("pretrained", "scratch"):
        result = getattr(comparison, name)
        prefix = f"finetune/{comparison.labels}/{name}"
        for epoch, (loss, accuracy) in enumerate(zip(result.train_loss, result.val_acc), start=1):
            writer.add_scalar(f"{prefix}/train_loss", loss, epoch)
            writer.add_scalar(f"{prefix}/val_acc", accuracy, epoch)
        writer.add_scalar(f"{prefix}/test_acc", result.test_acc, result.best_epoch)
