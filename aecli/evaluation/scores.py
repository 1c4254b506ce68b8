"""The metric suite of `aecli evaluate`: every score that applies to a run, on its test split.

Which metrics apply follows from the run: labelled data get the probes (with every label and
with a few), a run with classes left out of training its anomaly AUROC, continuous data the
PPCA likelihood baseline, data with known generating factors factor correlations and MIG,
VAE runs their bounds (a conditional VAE's given each label, and how well its samples show their
class: aecli.evaluation.conditional), VQ-VAEs their codebook use, linear models their angle to PCA. Codes are always the deterministic code (`model.encode`, the VAE mean).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from omegaconf import DictConfig
from torch import Tensor

from aecli.data import Split
from aecli.engine.experiment import Experiment
from aecli.engine.steps import encode_split, reconstruction_sse
from aecli.evaluation import metrics
from aecli.evaluation.conditional import conditional_sample_figures
from aecli.evaluation.downstream import Anomaly, Downstream, detect_anomalies, label_budget_probes, ppca_baseline
from aecli.evaluation.spectrum import Spectrum, cached_spectrum
from aecli.models import Autoencoder
from aecli.models.jacobian import squared_jacobian_norm


@dataclass
class Evaluation:
    metrics: dict[str, float | list[list[float]]]
    factor_names: tuple[str, ...] = ()
    factor_words: list[str] = field(default_factory=list)
    inactive: list[int] = field(default_factory=list)  # latents that hardly vary over the test codes (marked in the table)
    seconds: dict[str, float] = field(default_factory=dict)
    anomaly: Anomaly | None = None  # the ROC of the left-out classes, where the run left some out
    notes: list[str] = field(default_factory=list)  # why a figure that could apply was left out


def _factor_scores(
    result: Evaluation, codes: np.ndarray, factors: np.ndarray, names: tuple[str, ...], settings: DictConfig
) -> None:
    """factor_corr and mig, the sentences saying which latent carries which factor, the inactive latents."""
    correlation = metrics.factor_correlation(codes, factors, str(settings.factor_corr_method))
    result.metrics["factor_corr"] = correlation.tolist()
    result.metrics["mig"] = metrics.mutual_info_gap(codes, factors, int(settings.mig_bins))
    result.factor_names = tuple(names)
    result.factor_words = metrics.describe_factors(correlation, result.factor_names)
    result.inactive = metrics.inactive_latents(codes)


def evaluate_experiment(experiment: Experiment, settings: DictConfig) -> Evaluation:
    """Compute every applicable metric of a trained `experiment` (see the module docstring);
    `settings` is the evaluate config (probe.*, mig_bins, factor_corr_method, sparsity_threshold,
    nll_iw_samples, nll_iw_images)."""
    data, model, likelihood = experiment.data, experiment.model, experiment.likelihood
    batch_size = experiment.eval_batch_size
    result = Evaluation(metrics={})
    out = result.metrics

    def timer(name: str):
        return _timed(result.seconds, name)

    with timer("reconstruction"):
        sse = reconstruction_sse(model, likelihood, data.test, batch_size)
        out["recon_mse"] = sse / int(np.prod(data.sample_shape))
        out["recon_sse"] = sse

    # The train split as the model saw it (variance-MNIST draws its noise here, seeded by the run).
    torch.manual_seed(experiment.seed)
    train = Split(data.training_batch(data.train.x), data.train.labels, data.train.factors)
    test_x = data.test.x  # the whole test split as float, once (uint8 sets are stored as bytes)
    with timer("codes"):
        test_codes = _numpy(encode_split(model, data.test, batch_size))
        train_codes = _numpy(encode_split(model, train, batch_size)) if data.test.labels is not None else None

    with timer("pca"):  # the training split's spectrum, cached per split (aecli.evaluation.spectrum)
        spectrum = cached_spectrum(_numpy(train.x))
        out["pca_recon_sse"] = spectrum.reconstruction_sse(_numpy(test_x), model.latent_dim)
        if model.is_linear:
            out["pca_angle_deg"] = metrics.largest_principal_angle_deg(decoder_basis(model), spectrum.components(model.latent_dim))

    downstream = _downstream(experiment, settings, spectrum, test_x, train_codes, test_codes, result.seconds)
    out.update(downstream.metrics)
    result.anomaly, result.notes = downstream.anomaly, downstream.notes

    if data.test.factors is not None:
        _factor_scores(result, test_codes, _numpy(data.test.factors), data.factor_names, settings)

    with timer("jacobian"):  # exact per sample, on a fixed-seed subset as nll_iw
        out.update(jacobian_figures(model, data.test.subset(settings.jacobian_images), len(data.test), batch_size))
    out["code_sparsity"] = metrics.code_sparsity(test_codes, float(settings.sparsity_threshold))

    for regularizer in experiment.regularizers:  # figures only a term gives meaning to (the VAE's bounds)
        torch.manual_seed(experiment.seed)  # their samples repeat from call to call
        started = time.perf_counter()
        figures = regularizer.evaluate(model, likelihood, data.test, settings, batch_size)
        if figures:
            out.update(figures)
            result.seconds[regularizer.name] = time.perf_counter() - started
    if model.conditional and model.variational:  # do its samples show their class?
        with timer("conditional"):
            out.update(conditional_sample_figures(model, likelihood, data, experiment.seed, batch_size))
    return result


def _downstream(
    experiment: Experiment, settings: DictConfig, spectrum: Spectrum, test_x: Tensor, train_codes: np.ndarray | None,
    test_codes: np.ndarray, seconds: dict[str, float],
) -> Downstream:
    """What the codes are good for (aecli.evaluation.downstream): the probes with every label and
    with few, anomaly detection of the classes left out of training, the PPCA baseline."""
    data, model, likelihood = experiment.data, experiment.model, experiment.likelihood
    batch_size, result = experiment.eval_batch_size, Downstream()
    one_class = data.train.labels is not None and len(np.unique(_numpy(data.train.labels))) < 2
    if one_class:  # include_classes=[d]: one-class training, whose figure is anomaly detection
        result.notes.append("the probes left out: the training split holds one class (anomaly_auroc scores the others)")
    if data.test.labels is not None and not one_class:
        train_labels, test_labels = _numpy(data.train.labels), _numpy(data.test.labels)
        max_iter = int(settings.probe.max_iter)
        with _timed(seconds, "probe_linear"):
            result.metrics["probe_linear_acc"] = metrics.linear_probe_accuracy(
                train_codes, train_labels, test_codes, test_labels, max_iter
            )
        with _timed(seconds, "probe_knn"):
            result.metrics["probe_knn_acc"] = metrics.knn_accuracy(
                train_codes, train_labels, test_codes, test_labels, int(settings.probe.knn_k)
            )
        with _timed(seconds, "probe_few_labels"):
            label_budget_probes(
                train_codes, train_labels, test_codes, test_labels, list(settings.probe.label_budgets),
                int(settings.probe.draws), experiment.seed, max_iter, result,
            )
    if data.excluded_classes:
        with _timed(seconds, "anomaly"):
            torch.manual_seed(experiment.seed)  # a sampled score (the VAE's) repeats from call to call
            detect_anomalies(
                model, likelihood, experiment.regularizers, data.test, data.excluded_classes, settings, batch_size, result,
                train_codes, test_codes,
            )
    with _timed(seconds, "ppca"):
        ppca_baseline(spectrum, test_x, model.latent_dim, likelihood, result)
    if "ppca_nll" not in result.metrics:  # not applicable here: no time to report
        seconds.pop("ppca")
    return result


def mean_squared_jacobian_norm(model: Autoencoder, x: Tensor, batch_size: int, y: Tensor | None = None) -> float:
    """Mean over the rows of `x` of ||d encode(x) / dx||_F^2 (exact, see aecli.models.jacobian)."""
    return float(squared_jacobian_norms(model, x, batch_size, y).mean())


def squared_jacobian_norms(model: Autoencoder, x: Tensor, batch_size: int, y: Tensor | None = None) -> Tensor:
    """||d encode(x) / dx||_F^2 of each row of `x` (at labels `y` for a conditional model), float64
    on the CPU, (N,)."""
    model.eval()
    return torch.cat([
        squared_jacobian_norm(model, x[start : start + batch_size], y=None if y is None else y[start : start + batch_size]).double().cpu()
        for start in range(0, len(x), batch_size)
    ])


def jacobian_figures(model: Autoencoder, subset: Split, total: int, batch_size: int) -> dict[str, float]:
    """jacobian_fro (the mean of the exact norms over `subset`, a fixed-seed draw of a split of `total`
    samples), its standard error over that draw (0 when it is the whole split) and its size."""
    labels = subset.batch_labels(slice(None)) if model.conditional else None
    norms = squared_jacobian_norms(model, subset.x, max(1, batch_size // model.latent_dim), labels)
    rows = len(norms)
    se = 0.0 if rows == total or rows < 2 else float(norms.std() / math.sqrt(rows))
    return {"jacobian_fro": float(norms.mean()), "jacobian_fro_se": se, "jacobian_fro_rows": float(rows)}


def decoder_basis(model: Autoencoder) -> np.ndarray:
    """Columns spanning a linear decoder's output subspace, (D, latent_dim): its Jacobian at
    code 0 (constant for a linear decoder; tied or untied weights alike). With several decoder
    outputs per data dimension the first (the mean's) is used."""
    from torch.func import jacrev

    zero = torch.zeros(model.latent_dim, device=next(model.parameters()).device)
    with torch.enable_grad():
        jacobian = jacrev(lambda z: model.decode(z[None])[0])(zero)  # (*output_shape, latent_dim)
    jacobian = jacobian.reshape(model.outputs_per_dim, -1, model.latent_dim)[0]
    return _numpy(jacobian).astype(np.float64)


@contextmanager
def _timed(seconds: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    seconds[name] = time.perf_counter() - start


def _numpy(t: Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()
