"""The metric suite of `aecli evaluate`: every score that applies to a run, on its test split.

Which metrics apply follows from the run: labelled data get the probes, data with known
generating factors get factor correlations and MIG, VAE runs their bounds, linear models
their angle to PCA. Codes are always the deterministic code (`model.encode`, the VAE mean).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from torch import Tensor

from aecli import metrics
from aecli.data import Split
from aecli.jacobian import squared_jacobian_norm
from aecli.models import Autoencoder
from aecli.runs import Run
from aecli.likelihoods import Likelihood
from aecli.training import encode_split, reconstruct


@dataclass
class Evaluation:
    metrics: dict[str, float | list[list[float]]]
    factor_names: tuple[str, ...] = ()
    factor_words: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def evaluate_run(run: Run, settings: DictConfig) -> Evaluation:
    """Compute every applicable metric of `run` (see the module docstring); `settings` is the
    evaluate config (probe.knn_k, probe.max_iter, mig_bins, factor_corr_method,
    sparsity_threshold, nll_iw_samples)."""
    data, model, likelihood = run.experiment.data, run.experiment.model, run.experiment.likelihood
    batch_size = int(run.cfg.trainer.eval_batch_size)
    result = Evaluation(metrics={})
    out = result.metrics

    def timer(name: str):
        return _timed(result.seconds, name)

    with timer("reconstruction"):
        sse = reconstruction_sse(model, likelihood, data.test, batch_size)
        out["recon_mse"] = sse / int(np.prod(data.sample_shape))
        out["recon_sse"] = sse

    # The train split as the model saw it (variance-MNIST draws its noise here, seeded by the run).
    torch.manual_seed(int(run.cfg.get("seed", 0)))
    train = Split(data.training_batch(data.train.x), data.train.labels, data.train.factors)
    with timer("codes"):
        test_codes = _numpy(encode_split(model, data.test, batch_size))
        train_codes = _numpy(encode_split(model, train, batch_size)) if data.test.labels is not None else None

    with timer("pca"):
        pca = metrics.fit_pca(_numpy(train.x), model.latent_dim)
        out["pca_recon_sse"] = metrics.reconstruction_sse(pca, _numpy(data.test.x))
        if run.cfg.model.name == "linear":
            out["pca_angle_deg"] = metrics.largest_principal_angle_deg(decoder_basis(model), pca.components_.T)

    if data.test.labels is not None:
        with timer("probe_linear"):
            out["probe_linear_acc"] = metrics.linear_probe_accuracy(
                train_codes, _numpy(train.labels), test_codes, _numpy(data.test.labels), int(settings.probe.max_iter)
            )
        with timer("probe_knn"):
            out["probe_knn_acc"] = metrics.knn_accuracy(
                train_codes, _numpy(train.labels), test_codes, _numpy(data.test.labels), int(settings.probe.knn_k)
            )

    if data.test.factors is not None:
        factors = _numpy(data.test.factors)
        correlation = metrics.factor_correlation(test_codes, factors, str(settings.factor_corr_method))
        out["factor_corr"] = correlation.tolist()
        out["mig"] = metrics.mutual_info_gap(test_codes, factors, int(settings.mig_bins))
        result.factor_names = tuple(data.factor_names)
        result.factor_words = metrics.describe_factors(correlation, result.factor_names)

    with timer("jacobian"):
        out["jacobian_fro"] = mean_squared_jacobian_norm(model, data.test.x, max(1, batch_size // model.latent_dim))
    out["code_sparsity"] = metrics.code_sparsity(test_codes, float(settings.sparsity_threshold))

    if "vae" in (run.cfg.get("regularizer") or {}):
        with timer("vae"):
            out.update(_vae_metrics(run, data.test, int(settings.nll_iw_samples), batch_size))
    return result


def _vae_metrics(run: Run, split: Split, num_samples: int, batch_size: int) -> dict[str, float]:
    """elbo, nll_iw (K = num_samples importance samples), kl and active_units of a VAE run."""
    from aecli.regularizers.vae import vae_metrics

    torch.manual_seed(int(run.cfg.get("seed", 0)))  # the importance samples repeat from call to call
    return vae_metrics(run.experiment.model, run.experiment.likelihood, split, num_samples=num_samples, batch_size=batch_size)


def reconstruction_sse(model: Autoencoder, likelihood: Likelihood, split: Split, batch_size: int) -> float:
    """Squared error between each sample and its reconstruction from the deterministic code (the
    likelihood's mean; the posterior mean's decoding for a VAE), summed over the data
    dimensions, averaged over the split."""
    total = 0.0
    for start in range(0, len(split), batch_size):
        x = split.x[start : start + batch_size]
        total += (reconstruct(model, likelihood, x) - x).pow(2).flatten(1).sum(1).sum().item()
    return total / len(split)


def mean_squared_jacobian_norm(model: Autoencoder, x: Tensor, batch_size: int) -> float:
    """Mean over the rows of `x` of ||d encode(x) / dx||_F^2 (exact, see aecli.jacobian)."""
    model.eval()
    total = 0.0
    for start in range(0, len(x), batch_size):
        total += squared_jacobian_norm(model, x[start : start + batch_size]).sum().item()
    return total / len(x)


def decoder_basis(model: Autoencoder) -> np.ndarray:
    """Columns spanning a linear decoder's output subspace, (D, latent_dim): its Jacobian at
    code 0 (constant for a linear decoder; tied or untied weights alike). With several decoder
    outputs per data dimension the first (the mean's) is used."""
    from torch.func import jacrev

    zero = torch.zeros(model.latent_dim, device=next(model.parameters()).device)
    with torch.enable_grad():
        jacobian = jacrev(lambda z: model.decode(z[None])[0])(zero)  # (*output_shape, latent_dim)
    jacobian = jacobian.reshape(model.num_params, -1, model.latent_dim)[0]
    return _numpy(jacobian).astype(np.float64)


def describe_metrics(run: Run, settings: DictConfig) -> dict[str, str]:
    """One short phrase per metric name: what the number is, for this run."""
    dims = int(np.prod(run.experiment.data.sample_shape))
    latent_dim = run.experiment.model.latent_dim
    return {
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
    scalar_names = [key for key in values if key != "factor_corr"]
    width = max(len(key) for key in scalar_names)
    for key in scalar_names:
        lines.append(f"  {key:<{width}}  {_number(values[key]):>12}  {phrases.get(key, '')}")
    if "factor_corr" in values:
        names = evaluation.factor_names
        lines.append(f"factor_corr: |{settings.factor_corr_method} correlation| of each latent (row) with each factor")
        lines.append("        " + "".join(f"{name:>8}" for name in names))
        for i, row in enumerate(values["factor_corr"]):
            lines.append(f"  {'z' + str(i):<6}" + "".join(f"{entry:8.3f}" for entry in row))
        lines.append("which latent carries which factor:")
        lines.extend(f"  {sentence}" for sentence in evaluation.factor_words)
    if evaluation.seconds:
        lines.append("seconds: " + ", ".join(f"{name} {value:.2f}" for name, value in evaluation.seconds.items()))
    return "\n".join(lines)


def log_to_tensorboard(writer: Any, evaluation: Evaluation, report: str, step: int) -> None:
    """`evaluate/<metric>` scalars (one per factor_corr entry) and the report as text, at `step`."""
    for key, value in evaluation.metrics.items():
        if key == "factor_corr":
            for i, row in enumerate(value):
                for name, entry in zip(evaluation.factor_names, row):
                    writer.add_scalar(f"evaluate/factor_corr/z{i}_{name}", entry, step)
        else:
            writer.add_scalar(f"evaluate/{key}", value, step)
    writer.add_text("evaluate", "\n".join(f"    {line}" for line in report.splitlines()), step)


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e6:
        return f"{value:g}"
    return f"{value:.6g}" if 1e-3 <= abs(value) < 1e6 else f"{value:.4e}"


@contextmanager
def _timed(seconds: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    seconds[name] = time.perf_counter() - start


def _numpy(t: Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()
