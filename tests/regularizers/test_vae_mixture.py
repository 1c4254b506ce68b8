"""The VAE with a learned mixture-of-Gaussians prior (regularizer.vae.prior=mixture), against
torch.distributions and brute-force integrals."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from aecli.runs.config import migrate
from aecli.data import Split
from aecli.engine.steps import loss_terms
from aecli.errors import UserError
from aecli.likelihoods import build_likelihood
from aecli.models import Autoencoder, GaussianBottleneck, MixturePriorBottleneck
from aecli.models.bottleneck import log_normal
from aecli.regularizers import bottleneck_for, build_regularizers
from aecli.regularizers.vae import vae_metrics
from conftest import REPO


def vae(**overrides):
    cfg = OmegaConf.merge(OmegaConf.load(REPO / "configs" / "regularizer" / "vae.yaml"), overrides)
    return build_regularizers(OmegaConf.create({"vae": cfg}))[0]


def mixture(means, logvars) -> MixturePriorBottleneck:
    means, logvars = torch.as_tensor(means, dtype=torch.float32), torch.as_tensor(logvars, dtype=torch.float32)
    bottleneck = MixturePriorBottleneck(*means.shape)
    with torch.no_grad():
        bottleneck.prior_means.copy_(means)
        bottleneck.prior_logvars.copy_(logvars)
    return bottleneck


def test_the_prior_setting_chooses_the_code_layer_and_the_mixture_is_learned():
    assert type(bottleneck_for([vae()], 4)) is GaussianBottleneck
    layer = bottleneck_for([vae(prior="mixture", prior_components=7)], 4)
    assert isinstance(layer, MixturePriorBottleneck)
    assert layer.prior_means.shape == layer.prior_logvars.shape == (7, 4)
    assert {name for name, p in layer.named_parameters() if p.requires_grad} == {"prior_means", "prior_logvars"}
    with pytest.raises(UserError, match="regularizer.vae.prior=vamp is unknown; choose one of normal, mixture"):
        vae(prior="vamp")
    with pytest.raises(UserError, match="regularizer.vae.prior_components must be a positive integer, got 0"):
        vae(prior="mixture", prior_components=0)


def test_mixture_log_prior_matches_torch_distributions():
    torch.manual_seed(0)
    means, logvars = torch.randn(3, 4) * 2, torch.randn(3, 4) * 0.5
    bottleneck = mixture(means, logvars)
    reference = MixtureSameFamily(Categorical(torch.ones(3)), Independent(Normal(means, (0.5 * logvars).exp()), 1))
    z = torch.randn(2, 50, 4) * 3  # any leading shape
    assert torch.allclose(bottleneck.log_prior(z), reference.log_prob(z), atol=1e-5)
    # one standard component is the N(0, I) prior
    standard = mixture(torch.zeros(1, 4), torch.zeros(1, 4))
    assert torch.allclose(standard.log_prior(z), GaussianBottleneck().log_prior(z), atol=1e-5)


def test_mixture_kl_estimate_is_unbiased():
    """Over many draws z ~ q the one-sample KL estimate averages to KL(q || p), here the closed
    form for a one-component mixture and a brute-force 1-D integral for two components."""
    torch.manual_seed(0)
    mean, logvar = torch.tensor([[0.4, -1.0]]), torch.tensor([[-0.5, 0.3]])
    z = mean + (0.5 * logvar).exp() * torch.randn(400_000, 2)
    shifted = mixture([[1.0, -0.5]], [[0.2, -0.4]])
    q, p = Normal(mean, (0.5 * logvar).exp()), Normal(shifted.prior_means, (0.5 * shifted.prior_logvars).exp())
    closed = torch.distributions.kl_divergence(q, p).sum()
    assert shifted.kl(mean.expand_as(z), logvar.expand_as(z), z).mean().item() == pytest.approx(closed.item(), abs=0.01)

    two = mixture([[-2.0], [1.5]], [[-1.0], [0.5]])
    q_mean, q_logvar = torch.tensor([[0.3]]), torch.tensor([[-0.7]])
    grid = torch.linspace(-12, 12, 200_001).unsqueeze(1)
    q_density = Normal(q_mean, (0.5 * q_logvar).exp()).log_prob(grid).squeeze(1)
    integrand = q_density.exp() * (q_density - two.log_prior(grid))
    brute = torch.trapezoid(integrand.double(), grid.squeeze(1).double()).item()
    draws = q_mean + (0.5 * q_logvar).exp() * torch.randn(400_000, 1)
    estimate = two.kl(q_mean.expand_as(draws), q_logvar.expand_as(draws), draws).mean().item()
    assert estimate == pytest.approx(brute, abs=0.01)


def test_mixture_prior_samples_come_from_its_components():
    bottleneck = mixture([[-10.0, 0.0], [10.0, 5.0]], [[0.0, 0.0], [math.log(4.0), 0.0]])
    z = bottleneck.sample_prior(40_000, 2, torch.Generator().manual_seed(0))
    right = z[:, 0] > 0
    assert right.float().mean().item() == pytest.approx(0.5, abs=0.01)  # equal weights
    assert torch.allclose(z[right].mean(0), torch.tensor([10.0, 5.0]), atol=0.05)
    assert torch.allclose(z[right].std(0), torch.tensor([2.0, 1.0]), atol=0.05)
    assert torch.allclose(z[~right].std(0), torch.tensor([1.0, 1.0]), atol=0.05)
    again = bottleneck.sample_prior(40_000, 2, torch.Generator().manual_seed(0))
    assert torch.equal(z, again)  # the generator alone sets the draws


def _one_latent_vae() -> Autoencoder:
    """x in R^2; q(z|x) = N(0.5 x0 - 0.2 x1, exp(-1)), p(x|z) = N((z, -z) + 0.3, I) with sigma 1,
    and a two-component mixture prior."""
    encoder, decoder = nn.Linear(2, 2), nn.Linear(1, 2)
    with torch.no_grad():
        encoder.weight.copy_(torch.tensor([[0.5, -0.2], [0.0, 0.0]]))
        encoder.bias.copy_(torch.tensor([0.0, -1.0]))
        decoder.weight.copy_(torch.tensor([[1.0], [-1.0]]))
        decoder.bias.fill_(0.3)
    return Autoencoder(encoder, decoder, 1, (2,), bottleneck=mixture([[-1.5], [1.0]], [[-1.0], [0.0]]))


def test_elbo_and_importance_weighted_bound_with_a_mixture_prior_match_brute_force_integrals():
    """log p(x) = log int p(x|z) p(z) dz and the ELBO int q(z|x) log(p(x|z) p(z) / q(z|x)) dz on a
    fine grid of the one latent, against vae_metrics' estimates."""
    torch.manual_seed(0)
    model, likelihood = _one_latent_vae(), build_likelihood(OmegaConf.create({"name": "gaussian", "sigma": 1.0}))
    x = torch.tensor([[1.0, -2.0], [-0.5, 0.5], [2.5, 0.0]])
    grid = torch.linspace(-15, 15, 60_001, dtype=torch.float64)
    with torch.no_grad():
        decoded = model.decode(grid.float().unsqueeze(1)).double()  # (G, 2)
        log_joint = Normal(decoded, 1.0).log_prob(x.double().unsqueeze(1)).sum(-1)  # (3, G)
        log_joint = log_joint + model.bottleneck.log_prior(grid.float().unsqueeze(1)).double()
        q_mean = (0.5 * x[:, 0] - 0.2 * x[:, 1]).double().unsqueeze(1)
    log_q = Normal(q_mean, math.exp(-0.5)).log_prob(grid)  # (3, G)
    log_px = torch.logsumexp(log_joint, dim=1) + math.log(grid[1] - grid[0])  # a Riemann sum in log space
    elbo = torch.trapezoid(log_q.exp() * (log_joint - log_q), grid, dim=1)
    assert (log_px - elbo > 0.01).all()  # q is not the true posterior: a gap

    iw = vae_metrics(model, likelihood, Split(x), num_samples=20_000, batch_size=4096)
    assert iw["nll_iw"] == pytest.approx(-log_px.mean().item(), abs=0.01)
    one_draw = vae_metrics(model, likelihood, Split(x.repeat(20_000, 1)), num_samples=1, batch_size=4096)
    assert one_draw["elbo"] == pytest.approx(elbo.mean().item(), abs=0.02)


def test_training_with_a_mixture_prior_logs_the_estimated_kl_and_moves_the_prior():
    torch.manual_seed(0)
    model = Autoencoder(nn.Linear(6, 4), nn.Linear(2, 6), 2, (6,), bottleneck=bottleneck_for([vae(prior="mixture")], 2))
    likelihood = build_likelihood(OmegaConf.create({"name": "gaussian", "sigma": 1.0}))
    regularizer = vae(prior="mixture", beta=2.0)
    before = model.bottleneck.prior_means.detach().clone()
    terms, _ = loss_terms(model, likelihood, [regularizer], torch.randn(32, 6))
    assert not any(key.startswith("kl_dim_") for key in terms)  # a mixture's KL does not split by latent
    assert terms["kl"].item() == pytest.approx(2.0 * terms["kl_unweighted"].item(), rel=1e-5)
    terms["total"].backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert not torch.equal(model.bottleneck.prior_means, before)


def test_a_run_saved_before_the_prior_setting_loads_with_the_normal_prior():
    old = OmegaConf.create({"regularizer": {"vae": {"beta": 1.0, "warmup_epochs": 0}}})
    assert migrate(old).regularizer.vae.prior == "normal"


def test_the_standard_priors_closed_form_kl_agrees_with_its_log_density():
    """Training uses the closed form; nll_iw uses log_prior and log_normal: the two must agree."""
    torch.manual_seed(0)
    mean, logvar = torch.randn(4, 3), torch.randn(4, 3) * 0.5
    z = mean + (0.5 * logvar).exp() * torch.randn(200_000, 4, 3)
    bottleneck = GaussianBottleneck()
    monte_carlo = (log_normal(z, mean, logvar).sum(-1) - bottleneck.log_prior(z)).mean(0)
    assert torch.allclose(bottleneck.kl(mean, logvar, mean), monte_carlo, atol=0.02)
