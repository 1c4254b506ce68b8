"""The VAE: Gaussian bottleneck, KL term, warm-up, and the figures of vae_metrics."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn
from torch.distributions import Normal

from aecli.data import Split, build_dataset
from aecli.errors import UserError
from aecli.likelihoods import build_likelihood
from aecli.models import Autoencoder, GaussianBottleneck, build_model
from aecli.regularizers import build_regularizers
from aecli.regularizers.vae import VAE, kl_per_dimension, per_sample_bounds, vae_metrics
from aecli.engine.steps import loss_terms
from conftest import REPO


def model_cfg(name: str = "mlp", **overrides):
    return OmegaConf.merge(OmegaConf.load(REPO / "configs" / "model" / f"{name}.yaml"), overrides)


def vae(**overrides) -> VAE:
    cfg = OmegaConf.merge(OmegaConf.load(REPO / "configs" / "regularizer" / "vae.yaml"), overrides)
    return build_regularizers(OmegaConf.create({"vae": cfg}))[0]


def test_kl_formula_matches_monte_carlo():
    torch.manual_seed(0)
    mean = torch.tensor([[0.0, 1.5, -2.0, 0.3]])
    logvar = torch.tensor([[0.0, -1.0, 0.7, -3.0]])
    q, prior = Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0)
    z = q.sample((400_000,))
    monte_carlo = (q.log_prob(z) - prior.log_prob(z)).mean(0)
    analytic = kl_per_dimension(mean, logvar)
    assert torch.allclose(analytic, monte_carlo, rtol=0.02, atol=0.01)
    assert analytic[0, 0].item() == 0.0  # q = prior


@pytest.mark.parametrize("name, shape", [("mlp", (50,)), ("linear", (50,)), ("conv", (1, 28, 28))])
def test_gaussian_bottleneck_samples_around_the_mean_code(name, shape):
    torch.manual_seed(0)
    model = build_model(model_cfg(name, latent_dim=3), shape, 1, GaussianBottleneck())
    x = torch.rand(1, *shape).expand(4000, *shape)
    with torch.no_grad():
        forward = model(x)
        codes = [model.encode(x[:1]) for _ in range(2)]
    mean, logvar = forward.stats["mean"], forward.stats["logvar"]
    assert forward.code.shape == mean.shape == logvar.shape == (4000, 3)
    assert torch.equal(codes[0], codes[1])  # encode is deterministic: the mean
    assert torch.allclose(codes[0], mean[:1], atol=1e-5)
    std = (0.5 * logvar[0]).exp()
    assert torch.allclose(forward.code.mean(0), mean[0], atol=0.1 * std.max().item())
    assert torch.allclose(forward.code.std(0), std, rtol=0.08)


def test_plain_autoencoder_layers_are_unchanged_and_vae_doubles_the_code_layer():
    plain = build_model(model_cfg(hidden_dims=[20], latent_dim=3), (12,))
    shapes = {key: tuple(value.shape) for key, value in plain.state_dict().items()}
    assert shapes == {
        "encoder.1.weight": (20, 12), "encoder.1.bias": (20,), "encoder.3.weight": (3, 20), "encoder.3.bias": (3,),
        "decoder.0.weight": (20, 3), "decoder.0.bias": (20,), "decoder.2.weight": (12, 20), "decoder.2.bias": (12,),
    }
    assert plain(torch.randn(4, 12)).stats == {}
    variational = build_model(model_cfg(hidden_dims=[20], latent_dim=3), (12,), 1, GaussianBottleneck())
    assert variational.state_dict()["encoder.3.weight"].shape == (6, 20)
    assert variational.state_dict()["decoder.0.weight"].shape == (20, 3)


def test_tied_weights_with_a_gaussian_code_is_a_user_error():
    with pytest.raises(UserError, match="tied_weights=false with regularizer=vae"):
        build_model(model_cfg(tied_weights=True), (50,), 1, GaussianBottleneck())


@pytest.mark.parametrize(
    "overrides, message",
    [({"beta": 0}, "beta must be a number > 0"), ({"beta": -1.0}, "beta must be a number > 0"),
     ({"warmup_epochs": -1}, "warmup_epochs must be an integer >= 0")],
)
def test_bad_vae_settings_are_user_errors(overrides, message):
    with pytest.raises(UserError, match=message):
        vae(**overrides)


def test_kl_term_follows_beta_and_warm_up_in_training_and_full_beta_in_evaluation():
    torch.manual_seed(0)
    model = build_model(model_cfg(latent_dim=2), (50,), 1, GaussianBottleneck())
    likelihood = build_likelihood(OmegaConf.create({"name": "gaussian", "sigma": 1.0}))
    regularizer = vae(beta=2.0, warmup_epochs=4)
    x = torch.randn(16, 50)
    kl = {}
    for epoch, mode in ((1, True), (2, True), (4, True), (9, True), (1, False)):
        regularizer.start_epoch(epoch)
        model.train(mode)
        torch.manual_seed(1)  # the same z draw every time
        terms, _ = loss_terms(model, likelihood, [regularizer], x)
        assert terms["kl_unweighted"] == pytest.approx(sum(terms[f"kl_dim_{i}"] for i in range(2)).item())
        assert terms["total"].item() == pytest.approx((terms["recon"] + terms["kl"]).item())  # diagnostics not added
        kl[epoch, mode] = terms["kl"].item() / terms["kl_unweighted"].item()
    assert kl[1, True] == pytest.approx(0.5) and kl[2, True] == pytest.approx(1.0)
    assert kl[4, True] == pytest.approx(2.0) and kl[9, True] == pytest.approx(2.0)
    assert kl[1, False] == pytest.approx(2.0)  # validation and test use the full beta


def test_a_warm_up_from_above_beta_relaxes_the_kl_weight_down_to_beta():
    regularizer = vae(beta=1.0, warmup_epochs=50, warmup_from=4.0)
    weights = {}
    for epoch in (1, 25, 50, 80):
        regularizer.start_epoch(epoch)
        weights[epoch] = regularizer.train_weight
    # beta * (f + (1 - f) * min(1, e / W)) with f = 4, W = 50
    assert weights == pytest.approx({1: 4.0 - 3.0 / 50, 25: 2.5, 50: 1.0, 80: 1.0})


def _hand_built_vae(logvar_bias: float = 0.0) -> Autoencoder:
    """q(z|x) with mean (x0, 0.05 x1, 0.2 x2) and a constant log-variance; a linear decoder."""
    encoder = nn.Linear(3, 6)
    with torch.no_grad():
        encoder.weight.zero_()
        encoder.weight[0, 0], encoder.weight[1, 1], encoder.weight[2, 2] = 1.0, 0.05, 0.2
        encoder.bias.zero_()
        encoder.bias[3:] = logvar_bias
    return Autoencoder(encoder, nn.Linear(3, 3), 3, (3,), bottleneck=GaussianBottleneck())


def test_vae_metrics_kl_and_active_units_on_a_known_posterior():
    torch.manual_seed(0)
    split = Split(torch.randn(20_000, 3))
    figures = vae_metrics(_hand_built_vae(), build_likelihood(OmegaConf.create({"name": "gaussian", "sigma": 1.0})),
                          split, num_samples=2, batch_size=4096)
    assert set(figures) == {"elbo", "nll_iw", "nll_iw_se", "nll_iw_rows", "kl", "active_units"}
    assert (figures["nll_iw_rows"], figures["nll_iw_se"]) == (20_000, 0.0)  # all of them by default
    assert figures["active_units"] == 2  # variances 1, 0.0025, 0.04 against the 0.01 threshold
    assert figures["kl"] == pytest.approx(0.5 * (1 + 0.05**2 + 0.2**2), rel=0.03)  # logvar = 0: KL = mean^2 / 2


def test_vae_metrics_is_memory_bounded_and_log_sum_exp_stable():
    torch.manual_seed(0)
    model = _hand_built_vae(logvar_bias=-2.0)
    seen = []
    model.decoder.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[0]))
    # sigma = 1e-3: log-weights near -1e6, where a plain mean of exp() underflows to log(0).
    likelihood = build_likelihood(OmegaConf.create({"name": "gaussian", "sigma": 1e-3}))
    figures = vae_metrics(model, likelihood, Split(torch.randn(50, 3)), num_samples=30, batch_size=7)
    assert max(seen) <= 7
    assert all(math.isfinite(value) for value in figures.values())
    assert figures["nll_iw"] > 1e4 and figures["nll_iw"] <= -figures["elbo"]


@pytest.mark.parametrize("num_samples", [0, -3, 2.5])
def test_vae_metrics_rejects_k_below_one(num_samples):
    likelihood = build_likelihood(OmegaConf.create({"name": "gaussian", "sigma": 1.0}))
    with pytest.raises(UserError, match="importance samples K"):
        vae_metrics(_hand_built_vae(), likelihood, Split(torch.randn(5, 3)), num_samples, 64)


def test_vae_metrics_on_a_plain_autoencoder_is_a_user_error():
    likelihood = build_likelihood(OmegaConf.create({"name": "gaussian", "sigma": 1.0}))
    plain = build_model(model_cfg(latent_dim=2), (3,))
    with pytest.raises(UserError, match="regularizer=vae"):
        vae_metrics(plain, likelihood, Split(torch.randn(5, 3)), 10, 64)


@pytest.fixture(scope="module")
def trained_vae():
    """A small VAE trained for a few hundred steps on standardized lines (about two seconds).

    One thread: on a shared 2-core machine a second thread makes steps this small ~30x slower.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield _train_small_vae()
    finally:
        torch.set_num_threads(threads)


def _train_small_vae():
    torch.manual_seed(0)
    dataset_cfg = OmegaConf.merge(
        OmegaConf.load(REPO / "configs" / "dataset" / "lines.yaml"), {"num_samples": 1500, "normalize": "standardize"}
    )
    data = build_dataset(dataset_cfg, OmegaConf.create({"root": None, "download": False}))
    likelihood = build_likelihood(OmegaConf.create({"name": "gaussian", "sigma": 0.3}))
    model = build_model(model_cfg(hidden_dims=[64], latent_dim=2), data.sample_shape, 1, GaussianBottleneck())
    regularizers = [vae()]
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(400):
        index = torch.randint(len(data.train), (64,))
        terms, _ = loss_terms(model, likelihood, regularizers, data.train.x[index])
        optimizer.zero_grad()
        terms["total"].backward()
        optimizer.step()
    return model, likelihood, data


def test_importance_weighted_bound_is_below_negative_elbo_and_tightens_with_k(trained_vae):
    model, likelihood, data = trained_vae
    figures = {}
    for k in (1, 5, 50):
        torch.manual_seed(0)
        figures[k] = vae_metrics(model, likelihood, data.train, num_samples=k, batch_size=1000)
    negative_elbo = -figures[50]["elbo"]
    # K = 1 estimates -elbo itself; more samples give a strictly tighter (smaller) bound.
    assert figures[1]["nll_iw"] == pytest.approx(negative_elbo, abs=0.02 * abs(negative_elbo))
    assert figures[50]["nll_iw"] < figures[5]["nll_iw"] < negative_elbo
    assert negative_elbo - figures[50]["nll_iw"] > 0.1  # nats per sample
    assert figures[50]["kl"] > 1.0 and figures[50]["active_units"] >= 1  # the code is in use


def test_nll_iw_on_a_fixed_draw_of_samples_estimates_the_whole_splits_with_its_standard_error(trained_vae):
    model, likelihood, data = trained_vae
    torch.manual_seed(0)
    whole = vae_metrics(model, likelihood, data.train, num_samples=20, batch_size=1000)
    torch.manual_seed(1)
    part = vae_metrics(model, likelihood, data.train, num_samples=20, batch_size=1000, nll_iw_rows=300)
    assert part["nll_iw_rows"] == 300 and part["nll_iw_se"] > 0
    assert abs(part["nll_iw"] - whole["nll_iw"]) < 4 * part["nll_iw_se"]
    assert part["kl"] == pytest.approx(whole["kl"], rel=1e-6)  # elbo, kl, active units: on every sample
    assert data.train.subset(300).stored.equal(data.train.subset(300).stored)  # a fixed draw
    assert vae_metrics(model, likelihood, data.train, 5, 1000, nll_iw_rows=10**6)["nll_iw_rows"] == len(data.train)


def test_anomaly_scores_are_each_samples_negative_elbo(trained_vae):
    model, likelihood, data = trained_vae
    settings = OmegaConf.create({"nll_iw_samples": 20})
    torch.manual_seed(0)
    name, scores = vae().anomaly_scores(model, likelihood, data.test, settings, 500)
    torch.manual_seed(0)  # the same draws: the scores are each sample's -elbo from per_sample_bounds
    bounds, _ = per_sample_bounds(model, likelihood, data.test, 20, 500)
    assert name == "negative ELBO" and scores.shape == (len(data.test),)
    assert torch.allclose(scores, -bounds["elbo"])
    # a sample far off the lines is far less likely than any test line
    far = Split(data.test.x[:1] + 5.0)
    assert vae().anomaly_scores(model, likelihood, far, settings, 500)[1].item() > scores.max().item()
