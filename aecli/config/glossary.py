"""The metric glossary: every figure of metrics.json that a table words, declared once. `aecli
evaluate`'s table prints each figure's meaning; the results page names it in a few words and
prints it in its format; sweep summaries and both tables format numbers with `format_number`.

A phrase may name what it depends on in braces: the run's data and code ({dims}, {latent_dim},
{pca_components}) or the evaluate settings ({knn_k}, {draws}, {mig_bins}, {threshold},
{nll_iw_samples}; `settings_context`) and the run ({given}: a conditional VAE's bounds are
given each sample's label), so a configurable threshold is worded as it was set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    words: str  # the figure in a few words (the results page)
    meaning: str  # what the number is (evaluate's table)
    fmt: str = ".4g"  # how the results page prints it: a format spec, or "pct" (a fraction as a percentage)


METRICS: dict[str, Metric] = {
    "recon_mse": Metric("test squared error per data dimension",
                        "squared error of the reconstruction (deterministic code) per data dimension", ".3g"),
    "recon_sse": Metric("test squared error per image", "squared error per sample, summed over the {dims} data dimensions", ".3g"),
    "pca_recon_sse": Metric("PCA with the same code size", "the same for PCA with {pca_components} components (fit on train)", ".3g"),
    "pca_angle_deg": Metric("largest principal angle to PCA (deg)",
                            "largest principal angle between the decoder's subspace and PCA's (degrees)", ".2f"),
    "probe_linear_acc": Metric("linear probe", "logistic regression on standardized codes, fit on train, test accuracy", "pct"),
    "probe_knn_acc": Metric("kNN probe", "{knn_k}-nearest-neighbour vote among train codes, test accuracy", "pct"),
    "probe_linear_acc_{budget}": Metric("linear probe with {budget} labels",
                                        "the same with {budget} stratified train labels, mean of {draws} draws", "pct"),
    "probe_linear_acc_{budget}_std": Metric("spread of the linear probe with {budget} labels",
                                            "spread (std) of those {draws} draws", "pct"),
    "anomaly_auroc": Metric("anomaly AUROC",
                            "area under the ROC: the classes left out of training as anomalies (0.5 = chance)", ".3f"),
    "anomaly_auroc_knn": Metric("anomaly AUROC, code distance",
                                "the same, scored by the mean distance to the {knn_k} nearest training codes", ".3f"),
    "anomaly_auroc_mahalanobis": Metric("anomaly AUROC, Mahalanobis",
                                        "the same, scored by the Mahalanobis distance to the training codes' Gaussian fit", ".3f"),
    "ppca_nll": Metric("PPCA NLL (nats)", "test NLL per sample (nats) of PPCA with {latent_dim} latents fit on train", ".2f"),
    "mig": Metric("MIG", "mutual information gap ({mig_bins} bins, normalized by factor entropy)", ".2f"),
    "jacobian_fro": Metric("mean squared Frobenius norm of the encoder Jacobian",
                           "mean squared Frobenius norm of the encoder Jacobian d code / d x", ".3f"),
    "jacobian_fro_se": Metric("standard error of the encoder Jacobian's norm",
                              "standard error of jacobian_fro over the test samples it used (0: all of them)", ".3f"),
    "jacobian_fro_rows": Metric("test samples of the encoder Jacobian's norm", "test samples jacobian_fro averaged (evaluate jacobian_images)", "g"),
    "code_sparsity": Metric("fraction of code entries below {threshold}",
                            "fraction of code entries with |value| < {threshold}", ".2f"),
    "elbo": Metric("ELBO (nats)", "evidence lower bound per sample (nats){given}, estimated with one draw of z per sample", ".2f"),
    "nll_iw": Metric("importance-weighted NLL (nats)",
                     "importance-weighted negative log-likelihood, K = {nll_iw_samples} draws of z per sample (nats){given}: "
                     "at most -elbo in expectation; within the one-draw elbo's noise it can read above -elbo", ".2f"),
    "nll_iw_se": Metric("standard error of the importance-weighted NLL",
                        "standard error of nll_iw over the test samples it used (0: all of them)", ".2f"),
    "nll_iw_rows": Metric("test samples of the importance-weighted NLL", "test samples nll_iw averaged (evaluate nll_iw_images)", "g"),
    "kl": Metric("KL (nats)", "KL(q(z|x) || p(z)) per sample (nats)", ".2f"),
    "active_units": Metric("latents active", "latents whose posterior mean varies across the data", "g"),
    "mutual_info": Metric("index-code mutual information (nats)",
                          "the KL's part I(x; z): log q(z|x) - log q(z), q(z) over every test sample (nats)", ".2f"),
    "total_correlation": Metric("total correlation (nats)",
                                "the KL's part KL(q(z) || prod_d q(z_d)): how far the latents are from independent (nats)", ".3f"),
    "dimwise_kl": Metric("dimension-wise KL (nats)", "the KL's part sum_d KL(q(z_d) || p(z_d)) (nats)", ".2f"),
    "codebook_perplexity": Metric("codebook perplexity",
                                  "exp(entropy of the test codes' use of each slot's codebook), mean over slots "
                                  "(= the codebook size when all are used evenly)", ".1f"),
    "codebook_usage": Metric("share of codes used", "share of the codebook vectors some test sample uses", "pct"),
    "conditional_sample_acc": Metric("conditional samples read as their class",
                                     "share of the decoded prior samples of each class that a logistic regression "
                                     "fit on real training samples labels as that class", "pct"),
    "conditional_classifier_acc": Metric("that classifier on real test samples",
                                         "the same logistic regression's accuracy on the real test split", "pct"),
    "test_loss": Metric("test loss (negative ELBO, nats per image)",
                        "the training objective on the test split (nats per sample; a VAE's: one draw of z per sample)", ".2f"),
    "factors": Metric("the weakest factor's |Spearman r| on its own latent",
                      "the weakest factor's |Spearman r| on the latent most correlated with it (0: two factors share one)", ".2f"),
}
_PATTERNS = [(re.compile("^" + re.escape(name).replace(r"\{budget\}", r"(?P<budget>\d+)") + "$"), name)
             for name in METRICS if "{budget}" in name]


def lookup(name: str) -> tuple[Metric, dict[str, str]] | None:
    """The glossary entry of metric `name` and what its name itself says (a label budget), or None."""
    if name in METRICS:
        return METRICS[name], {}
    for pattern, key in _PATTERNS:
        match = pattern.match(name)
        if match:
            return METRICS[key], match.groupdict()
    return None


def meaning(name: str, context: dict[str, Any]) -> str:
    """What the figure `name` is, for this run and these settings ('' for a figure not in the glossary)."""
    found = lookup(name)
    return "" if found is None else found[0].meaning.format(**context, **found[1])


def words(name: str, context: dict[str, Any]) -> str:
    """The figure `name` in a few words (its name itself when the glossary lacks it)."""
    found = lookup(name)
    return name if found is None else found[0].words.format(**context, **found[1])


def fmt(name: str) -> str:
    found = lookup(name)
    return ".4g" if found is None else found[0].fmt


def settings_context(settings: Any) -> dict[str, Any]:
    """What the phrases may name of the evaluate settings (aecli evaluate's config)."""
    return {"knn_k": settings.probe.knn_k, "draws": settings.probe.draws, "mig_bins": settings.mig_bins,
            "threshold": settings.sparsity_threshold, "nll_iw_samples": settings.nll_iw_samples, "given": ""}


def value_text(value: Any, spec: str) -> str:
    """A figure in the format `spec` ("pct": a fraction as a percentage with one decimal)."""
    return f"{100 * value:.1f} %" if spec == "pct" else format(value, spec)


def format_number(value: object) -> str:
    """A figure for a table: integers as they are, else 6 significant digits (scientific
    notation far from 1); "" for anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    if float(value).is_integer() and abs(value) < 1e6:
        return f"{value:g}"
    return f"{value:.6g}" if 1e-3 <= abs(value) < 1e6 else f"{value:.4e}"
