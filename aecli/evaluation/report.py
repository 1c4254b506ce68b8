"""The printed table of `aecli evaluate`: one line per metric with what it means, the factor
correlation matrix, and which latent carries which factor in words."""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig

from aecli.config import glossary
from aecli.config.glossary import format_number
from aecli.engine.experiment import Experiment
from aecli.evaluation.scores import Evaluation


def metric_context(experiment: Experiment, settings: DictConfig) -> dict:
    """What the glossary's phrases name for this run: its data and code sizes and the evaluate settings."""
    dims = int(np.prod(experiment.data.sample_shape))
    latent_dim = experiment.model.latent_dim
    given = ", given each sample's true label" if experiment.model.conditional else ""
    return {"dims": dims, "latent_dim": latent_dim, "pca_components": min(latent_dim, dims),
            **glossary.settings_context(settings), "given": given}


def format_report(title: str, experiment: Experiment, evaluation: Evaluation, settings: DictConfig) -> str:
    """The printed table under `title` (which run and checkpoint): one line per metric with what it
    means (aecli.config.glossary), the factor correlation matrix, and which latent carries which
    factor in words."""
    values = evaluation.metrics
    context = metric_context(experiment, settings)
    lines = [f"aecli evaluate: {title}, {len(experiment.data.test)} test samples of {experiment.cfg.dataset.name}"]
    lines += _class_lines(experiment)
    scalar_names = [key for key in values if key != "factor_corr"]
    width = max(len(key) for key in scalar_names)
    for key in scalar_names:
        lines.append(f"  {key:<{width}}  {format_number(values[key]):>12}  {glossary.meaning(key, context)}")
    if "factor_corr" in values:
        names = evaluation.factor_names
        lines.append(f"factor_corr: |{settings.factor_corr_method} correlation| of each latent (row) with each factor")
        lines.append("        " + "".join(f"{name:>8}" for name in names))
        for i, row in enumerate(values["factor_corr"]):
            mark = "  (inactive: hardly varies over the test codes)" if i in evaluation.inactive else ""
            lines.append(f"  {'z' + str(i):<6}" + "".join(f"{entry:8.3f}" for entry in row) + mark)
        lines.append("which latent carries which factor:")
        lines.extend(f"  {sentence}" for sentence in evaluation.factor_words)
    if evaluation.anomaly is not None:
        anomaly = evaluation.anomaly
        lines.append(
            f"anomaly detection: classes {list(anomaly.classes)} left out of training; {anomaly.num_anomalies} of them "
            f"and {anomaly.num_normal} others in test, scored by the {anomaly.score_name} (ROC: roc.png)"
        )
    lines.extend(f"note: {note}" for note in evaluation.notes)
    if evaluation.seconds:
        lines.append("seconds: " + ", ".join(f"{name} {value:.2f}" for name, value in evaluation.seconds.items()))
    return "\n".join(lines)


def _class_lines(experiment: Experiment) -> list[str]:
    """The test split's classes by name with their counts (labelled data only)."""
    data = experiment.data
    if data.test.labels is None:
        return []
    counts = np.bincount(data.test.labels.cpu().numpy(), minlength=len(data.class_names))
    named = [f"{data.class_name(i)} {count}" for i, count in enumerate(counts) if count]
    return [f"classes (test samples): {', '.join(named)}"]
