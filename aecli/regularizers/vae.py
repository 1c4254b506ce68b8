"""The variational autoencoder: a Gaussian bottleneck plus a KL term.

`regularizer=vae` declares that its term needs a Gaussian code layer (`bottleneck`), which
the model family builds (q(z|x) = N(mean, diag(exp(logvar))), sampled by
reparameterization); this regularizer adds beta * KL(q(z|x) || p(z)) to the
reconstruction term. The prior p(z) is N(0, I) (`prior: normal`, the KL in closed form) or a
learned mixture of Gaussians (`prior: mixture`, the KL a one-sample estimate; see
aecli.models.bottleneck). With beta = 1 the loss is the negative ELBO. Every figure is in
nats per sample: summed over the data dimensions (and the latent dimensions for the KL),
averaged over the batch.

`vae_metrics` computes a trained VAE's test figures (ELBO, importance-weighted
bound, KL, active units); `aecli evaluate` calls it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from omegaconf import DictConfig
from torch import Tensor

from aecli.config.schema import Choice, Float, Int
from aecli.data import Dataset, Split
from aecli.errors import UserError
from aecli.likelihoods import Likelihood
from aecli.models import Autoencoder, Forward, GaussianBottleneck, MixturePriorBottleneck
from aecli.models.bottleneck import kl_per_dimension, log_normal
from aecli.regularizers import REGULARIZERS
from aecli.regularizers.base import Regularizer
from aecli.regularizers.total_correlation import ESTIMATORS, decomposition, kl_parts

SETTINGS = {
    "beta": Float(min=0, min_open=True, requirement="be a number > 0 (beta = 1 is the plain VAE)"),
    "warmup_epochs": Int(min=0),
    "warmup_from": Float(min=0, old=0.0, requirement="be a number >= 0 (the KL weight at the start, in units of beta)"),
    "prior": Choice("normal", "mixture", old="normal"),
    "prior_components": Int(min=1, old=10),
    "tc_weight": Float(min=0, nullable=True, old=None, requirement="be a number >= 0 (beta-TCVAE's total-correlation weight) or null (the plain KL)"),
    "tc_estimator": Choice(*ESTIMATORS, old="mws"),
    "iw_samples": Int(min=1, requirement="be a positive number of importance samples (1: the VAE's bound)", old=1),
}

ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al. (2016): a unit is active when Cov_x(E_q[z]) > 0.01


class VAE(Regularizer):
    """Adds `kl`: beta * KL(q(z|x) || p(z)), summed over latents, averaged over the batch.

    With `warmup_epochs` = W > 0 the training weight moves linearly from `warmup_from` x beta
    (0: a rise from nothing) to beta: epoch e trains with beta * (f + (1 - f) * min(1, e / W)).
    f > 1 starts with a stronger pull to the prior that relaxes to beta. Validation and test losses always use the full beta,
    so best.pt is chosen on the objective itself, not on a discounted one.
    Diagnostics: `kl_unweighted` (the KL itself) and, for the N(0, I) prior, `kl_dim_<i>` (its
    share per latent; a mixture prior's KL does not split by latent).
    """

    name = "vae"
    bottleneck = GaussianBottleneck

    def __init__(self, cfg: DictConfig):
        super().__init__(cfg)
        self.beta = float(cfg.beta)
        self.warmup_epochs = int(cfg.warmup_epochs)
        self.warmup_from = float(cfg.warmup_from)
        self.prior = str(cfg.prior)
        self.prior_components = int(cfg.prior_components)
        self.tc_weight = None if cfg.tc_weight is None else float(cfg.tc_weight)
        self.tc_estimator = str(cfg.tc_estimator)
        if self.tc_weight is not None and self.prior != "normal":
            raise UserError("regularizer.vae.tc_weight splits the KL by latent, which needs a prior that factorizes over "
                            "them; use regularizer.vae.prior=normal")
        self.dataset_size = 1  # the training samples N of beta-TCVAE's estimates, known at `check`
        self.iw_samples = int(cfg.iw_samples)
        if self.iw_samples > 1 and (self.beta != 1 or self.warmup_epochs or self.tc_weight is not None):
            raise UserError("regularizer.vae.iw_samples > 1 trains the importance-weighted bound, which has no KL term to "
                            "weigh; keep regularizer.vae.beta=1, warmup_epochs=0 and tc_weight=null with it")
        self.start_epoch(1)

    def make_bottleneck(self, latent_dim: int) -> GaussianBottleneck:
        if self.prior == "normal":
            return GaussianBottleneck()
        return MixturePriorBottleneck(self.prior_components, latent_dim)

    def start_epoch(self, epoch: int) -> None:
        ramp = min(1.0, epoch / self.warmup_epochs) if self.warmup_epochs else 1.0
        self.train_weight = self.beta * (self.warmup_from + (1.0 - self.warmup_from) * ramp)

    def penalty(self, model: Autoencoder, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        if self.iw_samples > 1:
            return self.importance_weighted(model, x, forward)
        weight = self.train_weight if model.training else self.beta
        if self.tc_weight is not None:  # beta-TCVAE: the KL's three parts (aecli.regularizers.total_correlation)
            parts = kl_parts(forward.code, forward.stats["mean"], forward.stats["logvar"], self.dataset_size, self.tc_estimator)
            tc = self.tc_weight * weight / self.beta
            return {"kl_mutual_info": weight * parts["mutual_info"].mean(), "kl_total_correlation": tc * parts["total_correlation"].mean(),
                    "kl_dimwise": weight * parts["dimwise_kl"].mean()}
        kl = model.bottleneck.kl(forward.stats["mean"], forward.stats["logvar"], forward.code).mean()
        return {"kl": weight * kl}

    def importance_weighted(self, model: Autoencoder, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        """The IWAE bound (Burda et al. 2016) with k = iw_samples draws: -log (1/k) sum_i p(x|z_i)
        p(z_i) / q(z_i|x), per sample. `recon` (one draw, the pass's) stays the first term, and
        `iw_bound` = the bound - recon, so `total` is the negative bound and its gradient the bound's."""
        mean, logvar = forward.stats["mean"], forward.stats["logvar"]
        k, (rows, latent_dim) = self.iw_samples, mean.shape
        z = mean + torch.exp(0.5 * logvar) * torch.randn(k, rows, latent_dim, device=mean.device, dtype=mean.dtype)
        labels = None if forward.labels is None else forward.labels.repeat(k)
        targets = x.unsqueeze(0).expand(k, *x.shape).reshape(k * rows, *x.shape[1:])
        log_px = -self.likelihood.nll(model.decode(z.reshape(k * rows, latent_dim), y=labels), targets).reshape(k, rows)
        log_w = log_px + model.bottleneck.log_prior(z) - log_normal(z, mean, logvar).sum(-1)
        bound = math.log(k) - torch.logsumexp(log_w, dim=0)
        recon = self.likelihood.nll(forward.output, x)
        return {"iw_bound": (bound - recon).mean()}

    def diagnostics(self, model: Autoencoder, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        if not model.bottleneck.closed_form_kl:
            return {"kl_unweighted": model.bottleneck.kl(forward.stats["mean"], forward.stats["logvar"], forward.code).mean()}
        per_dim = kl_per_dimension(forward.stats["mean"], forward.stats["logvar"]).mean(0)
        return {"kl_unweighted": per_dim.sum(), **{f"kl_dim_{i}": value for i, value in enumerate(per_dim.unbind())}}

    def check(self, model: Autoencoder, data: Dataset) -> None:
        if not model.variational:  # the model was built without the Gaussian code layer this term declares
            raise RuntimeError("regularizer=vae on a model without a Gaussian bottleneck")
        self.dataset_size = len(data.train)
        if model.input_gain:
            raise UserError(
                "regularizer=vae decodes codes without an input (prior samples, traversals, nll_iw); "
                "set model.input_gain=false"
            )

    def evaluate(self, model: Autoencoder, likelihood: Likelihood, split: Split, settings: Any, batch_size: int) -> dict[str, float]:
        """elbo, kl and active_units on the split; nll_iw (K = settings.nll_iw_samples importance
        samples) on settings.nll_iw_images of its samples (null: all); with the N(0, I) prior the
        KL's mutual_info, total_correlation and dimwise_kl (aecli.regularizers.total_correlation)."""
        images = settings.nll_iw_images
        figures = vae_metrics(model, likelihood, split, num_samples=int(settings.nll_iw_samples), batch_size=batch_size,
                              nll_iw_rows=None if images is None else int(images))
        if self.prior == "normal":  # the KL's three parts (beta-TCVAE's split), for any VAE with a factorized prior
            figures.update(decomposition(model, split, batch_size))
        return figures

    def anomaly_scores(
        self, model: Autoencoder, likelihood: Likelihood, split: Split, settings: Any, batch_size: int
    ) -> tuple[str, Tensor]:
        """The negative ELBO of each sample (K = settings.nll_iw_samples draws of z): what the
        VAE was trained to minimize, so what it finds unlikely scores high."""
        bounds, _ = per_sample_bounds(model, likelihood, split, int(settings.nll_iw_samples), batch_size)
        return "negative ELBO", -bounds["elbo"]


REGULARIZERS.register("vae", settings=SETTINGS)(VAE)


@torch.no_grad()
def vae_metrics(
    model: Autoencoder, likelihood: Likelihood, split: Split, num_samples: int, batch_size: int,
    nll_iw_rows: int | None = None,
) -> dict[str, float]:
    """A trained VAE's figures on `split`, each averaged over its samples, in nats per sample.

    elbo: E_q[log p(x|z)] - KL(q(z|x) || p(z)), the reconstruction term estimated with
        one draw of z per sample (as pytorch/examples' test loss; unbiased, and over
        thousands of samples its noise is far below the figures' second decimal) and the KL
        in closed form for the N(0, I) prior, with the same draw for a mixture prior (beta
        plays no part).
    nll_iw: -log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x) with K = `num_samples`, the
        importance-weighted bound of Burda et al. (2016): an upper bound on -log p(x) that
        tightens as K grows; K = 1 gives -elbo in expectation. It decodes K draws per sample,
        so it is the expensive figure: on `nll_iw_rows` samples of the split (a fixed-seed
        draw; None or more than the split: all of them), with `nll_iw_se`, the standard error of
        that mean over the samples (0 when all were used), and `nll_iw_rows`, how many.
    kl: KL(q(z|x) || p(z)), summed over latents.
    active_units: the number of latents whose posterior mean varies across the split,
        Var_x(E_q[z_i]) > 0.01.

    At most `batch_size` (sample, z) pairs are decoded at once, so memory stays bounded for
    any K. Draws come from torch's global generator (seed it for repeatable figures).
    """
    figures, means = per_sample_bounds(model, likelihood, split, 1, batch_size)
    figures = {key: value.double().sum().item() / len(split) for key, value in figures.items() if key != "nll_iw"}
    variance = means.var(0, correction=0) if len(split) > 1 else torch.zeros(model.latent_dim)
    figures["active_units"] = float((variance > ACTIVE_UNIT_THRESHOLD).sum().item())
    rows = len(split) if nll_iw_rows is None else min(int(nll_iw_rows), len(split))
    subset = split.subset(rows)
    bounds, _ = per_sample_bounds(model, likelihood, subset, num_samples, batch_size)
    nll = bounds["nll_iw"].double()
    figures["nll_iw"] = nll.mean().item()
    figures["nll_iw_se"] = 0.0 if rows == len(split) or rows < 2 else (nll.std() / math.sqrt(rows)).item()
    figures["nll_iw_rows"] = float(rows)
    return figures


@torch.no_grad()
def per_sample_bounds(
    model: Autoencoder, likelihood: Likelihood, split: Split, num_samples: int, batch_size: int
) -> tuple[dict[str, Tensor], Tensor]:
    """`vae_metrics`' elbo, nll_iw and kl for each sample of `split` (each (N,), nats), and the
    posterior means (N, latent_dim)."""
    Int(min=1).check("the number of importance samples K", num_samples)
    Int(min=1).check("the evaluation batch size", batch_size)
    if not model.variational:
        raise UserError("elbo, nll_iw, kl and active_units need a VAE run (trained with regularizer=vae)")
    model.eval()
    rows = max(1, batch_size // num_samples)  # samples per chunk, so rows * K pairs fit in one batch
    parts: dict[str, list[Tensor]] = {"elbo": [], "nll_iw": [], "kl": []}
    means = []
    for x, y in split.labelled_batches(rows):  # a conditional model's bounds are conditioned on each true label
        stats = model(x, y).stats
        mean, logvar = stats["mean"], stats["logvar"]
        log_px, log_w = _log_weights(model, likelihood, x, mean, logvar, num_samples, batch_size, y if model.conditional else None)
        # log p(x|z) - log w = log q(z|x) - log p(z): the KL's Monte Carlo estimate where it has no closed form.
        kl = model.bottleneck.kl(mean, logvar, mean) if model.bottleneck.closed_form_kl else (log_px - log_w).mean(0)
        parts["elbo"].append(log_px.mean(0) - kl)
        parts["nll_iw"].append(math.log(num_samples) - torch.logsumexp(log_w, dim=0))
        parts["kl"].append(kl)
        means.append(mean)
    return {key: torch.cat(values) for key, values in parts.items()}, torch.cat(means)


def _log_weights(
    model: Autoencoder, likelihood: Likelihood, x: Tensor, mean: Tensor, logvar: Tensor, num_samples: int,
    batch_size: int, y: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """log p(x|z_k) and log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x) for K draws, each (K, B)
    (with a conditional model's labels `y`: p(x|z_k, y) and q(z_k|x, y))."""
    rows, latent_dim = mean.shape
    per_call = max(1, batch_size // rows)
    log_px, log_w = [], []
    for done in range(0, num_samples, per_call):
        draws = min(per_call, num_samples - done)
        eps = torch.randn(draws, rows, latent_dim, device=mean.device, dtype=mean.dtype)
        z = mean + torch.exp(0.5 * logvar) * eps
        targets = x.unsqueeze(0).expand(draws, *x.shape).reshape(draws * rows, *x.shape[1:])
        labels = None if y is None else y.repeat(draws)
        log_p = -likelihood.nll(model.decode(z.reshape(draws * rows, latent_dim), y=labels), targets).reshape(draws, rows)
        log_prior_over_q = model.bottleneck.log_prior(z) - log_normal(z, mean, logvar).sum(-1)
        log_px.append(log_p)
        log_w.append(log_p + log_prior_over_q)
    return torch.cat(log_px), torch.cat(log_w)
