"""The IWAE objective (regularizer.vae.iw_samples=k): on a linear Gaussian VAE, whose exact
log-likelihood is known, the trained bound is the exact logmeanexp of its k weights, lies above
-log p(x) and below the ELBO's loss, and tightens towards -log p(x) as k grows."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf

from aecli.engine.steps import loss_terms
from aecli.errors import UserError
from aecli.likelihoods import build_likelihood
from aecli.models import build_model
from aecli.models.bottleneck import log_normal
from aecli.regularizers import bottleneck_for
from conftest import model_cfg, regularizers

D, LATENT = 5, 2


def linear_vae(k: int):
    torch.manual_seed(0)
    (vae,) = regularizers(vae={"iw_samples": k})
    model = build_model(model_cfg("mlp", hidden_dims=[], latent_dim=LATENT), (D,), 1, bottleneck_for([vae], LATENT)).double()
    likelihood = build_likelihood(OmegaConf.create({"name": "gaussian", "sigma": 1.0}))
    vae.likelihood = likelihood
    return model, likelihood, vae


def exact_nll(model, x):
    """-log p(x) of the linear decoder x = W z + b + eps, z ~ N(0, I), eps ~ N(0, I)."""
    decoder = model.decoder[0]
    covariance = decoder.weight @ decoder.weight.T + torch.eye(D, dtype=x.dtype)
    return -torch.distributions.MultivariateNormal(decoder.bias, covariance).log_prob(x)


def test_the_trained_term_is_the_logmeanexp_of_the_weights():
    model, likelihood, vae = linear_vae(7)
    x = torch.randn(4, D, dtype=torch.float64)
    torch.manual_seed(1)
    terms, forward = loss_terms(model, likelihood, [vae], x)
    torch.manual_seed(1)
    forward_again = model(x)  # the pass's draw, then the k draws of the bound
    mean, logvar = forward_again.stats["mean"], forward_again.stats["logvar"]
    z = mean + torch.exp(0.5 * logvar) * torch.randn(7, 4, LATENT, dtype=x.dtype)
    log_w = torch.stack([
        -likelihood.nll(model.decode(z[i]), x) + log_normal(z[i], torch.zeros_like(z[i]), torch.zeros_like(z[i])).sum(-1)
        - log_normal(z[i], mean, logvar).sum(-1) for i in range(7)])
    expected = (math.log(7) - torch.logsumexp(log_w, 0)).mean()
    torch.testing.assert_close(terms["total"], expected)
    assert set(terms) >= {"recon", "iw_bound", "total"} and "kl" not in terms


def test_the_bound_lies_between_the_exact_nll_and_the_elbo_and_tightens_with_k():
    x = torch.randn(64, D, dtype=torch.float64) * 2
    estimates = {}
    for k in (1, 10, 200):
        model, likelihood, vae = linear_vae(k)
        model.eval()
        torch.manual_seed(2)
        with torch.no_grad():
            estimates[k] = torch.stack([loss_terms(model, likelihood, [vae], x)[0]["total"] for _ in range(40)]).mean().item()
    exact = exact_nll(model, x).mean().item()
    assert exact - 0.02 <= estimates[200] < estimates[10] < estimates[1]  # an upper bound on -log p(x), tighter with k
    assert estimates[200] - exact < 0.1 * (estimates[1] - exact)


def test_the_bound_has_no_kl_to_weigh():
    with pytest.raises(UserError, match="iw_samples > 1 trains the importance-weighted bound.*beta=1"):
        regularizers(vae={"iw_samples": 5, "beta": 4.0})
