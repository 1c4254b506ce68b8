"""The printed table of `aecli evaluate`: one line per metric with what it means, the factor
correlation matrix, and which latent carries which factor in words."""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig

from aecli.evaluation.metrics import format_number
from aecli.evaluation.scores import Evaluation
from aecli.api import Run


def describe_metrics(run: Run, settings: DictConfig) -> dict[str, str]:
    """One short phrase per metric name: what the number is, for this run."""
    dims = int(np.prod(run.experiment.data.sample_shape))
    latent_dim = run.experiment.model.latent_dim
    budgets = {}
    for budget in settings.probe.label_budgets:
        budgets[f"probe_linear_acc_{budget}"] = f"the same with {budget} stratified train labels, mean of {settings.probe.draws} draws"
        budgets[f"probe_linear_acc_{budget}_std"] = f"spread (std) of those {settings.probe.draws} draws"
    return {
        **budgets,
        "anomaly_auroc": "area under the ROC: the classes left out of training as anomalies (0.5 = chance)",
        "ppca_nll": f"test NLL per sample (nats) of PPCA with {latent_dim} latents fit on train",
        "recon_mse": "squared error of the reconstruction (deterministic code) per data dimension",
        "recon_sse": f"squared error per sample, summed over the {dims} data dimensions",
        "pca_recon_sse": f"the same for PCA with {min(latent_dim, dims)} components (fit on train)",
        "pca_angle_deg": "largest principal angle between the decoder's subspace and PCA's (degrees)",
        "probe_linear_acc": "logistic regression on standardized codes, fit on train, test accuracy",
        "probe_knn_acc": f"{settings.probe.knn_k}-nearest-neighbour vote among train codes, test accuracy",
        "mig": f"mutual information gap ({settings.mig_bins} bins, normalized by factor entropy)",
        "jacobian_fro": "mean squared Frobenius norm of the encoder Jacobian d code / d x",
        "code_sparsity": f"fraction of code entries with |value| < {settings.sparsity_threshold}",
        "elbo": "evidence lower bound per sample (nats)",
        "nll_iw": f"importance-weighted negative log-likelihood, K = {settings.nll_iw_samples} (nats)",
        "nll_iw_se": "standard error of nll_iw over the test samples it used (0: all of them)",
        "nll_iw_rows": "test samples nll_iw averaged (evaluate nll_iw_images)",
        "kl": "KL(q(z|x) || p(z)) per sample (nats)",
        "active_units": "latents whose posterior mean varies across the data",
    }


def format_report(run: Run, evaluation: Evaluation, settings: DictConfig) -> str:
    """The printed table: one line per metric with what it means, the factor correlation
    matrix, and which latent carries which factor in words."""
    values = evaluation.metrics
    phrases = describe_metrics(run, settings)
    lines = [
        f"aecli evaluate: {run.path} (checkpoint {run.checkpoint_name}, epoch {run.epoch}), "
        f"{len(run.experiment.data.test)} test samples of {run.cfg.dataset.name}"
    ]
    lines += _class_lines(run)
    scalar_names = [key for key in values if key != "factor_corr"]
    width = max(len(key) for key in scalar_names)
    for key in scalar_names:
        lines.append(f"  {key:<{width}}  {format_number(values[key]):>12}  {phrases.get(key, '')}")
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


def _class_lines(run: Run) -> list[str]:
    """The test split's classes by name with their counts (labelled data only)."""
    data = run.experiment.data
    if data.test.labels is None:
        return []
    counts = np.bincount(data.test.labels.cpu().numpy(), minlength=len(data.class_names))
    named = [f"{data.class_name(i)} {count}" for i, count in enumerate(counts) if count]
    return [f"classes (test samples): {', '.join(named)}"]
