"""Reconstruction losses are exact negative log-likelihoods, nats per sample."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal

from aecli.data import Dataset, Split
from aecli.errors import UserError
from aecli.likelihoods import build_likelihood
from omegaconf import OmegaConf


def likelihood(name: str, **keys):
    return build_likelihood(OmegaConf.create({"name": name, **keys}))


@pytest.mark.parametrize("sigma", [0.1, 1.0, 2.5])
def test_gaussian_nll_matches_torch_distributions(sigma):
    torch.manual_seed(0)
    mean, x = torch.randn(4, 1, 5, 5), torch.randn(4, 1, 5, 5)
    expected = -Normal(mean, sigma).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(likelihood("gaussian", sigma=sigma).nll(mean, x), expected, atol=1e-4)


def test_gaussian_with_unit_sigma_is_half_sse_plus_a_constant():
    mean, x = torch.zeros(3, 10), torch.ones(3, 10)
    nll = likelihood("gaussian", sigma=1.0).nll(mean, x)
    constant = 10 * 0.5 * torch.log(torch.tensor(2 * torch.pi))
    assert torch.allclose(nll, 0.5 * 10 + constant)


def test_bernoulli_nll_matches_torch_distributions():
    torch.manual_seed(0)
    logits, x = torch.randn(6, 20) * 3, torch.rand(6, 20).round()
    expected = -Bernoulli(logits=logits).log_prob(x).sum(1)
    model = likelihood("bernoulli")
    assert torch.allclose(model.nll(logits, x), expected, atol=1e-5)
    assert torch.allclose(model.mean(logits), torch.sigmoid(logits))


def _data(values):
    split = Split(torch.tensor(values))
    return Dataset("toy", split, split, split, kind="signal")


def test_bernoulli_rejects_data_outside_unit_interval():
    likelihood("bernoulli").check(_data([[0.0, 1.0]]))
    with pytest.raises(UserError, match="needs data in \\[0, 1\\]"):
        likelihood("bernoulli").check(_data([[-0.5, 1.0]]))


def test_bad_sigma_and_unknown_likelihood_are_user_errors():
    with pytest.raises(UserError):
        likelihood("gaussian", sigma=0.0)
    with pytest.raises(UserError, match="not available"):
        likelihood("laplace")


def gaussian_learned(**keys):
    from conftest import REPO

    cfg = OmegaConf.merge(OmegaConf.load(REPO / "configs" / "likelihood" / "gaussian_learned.yaml"), keys)
    return build_likelihood(cfg)


def test_gaussian_learned_nll_matches_torch_distributions():
    torch.manual_seed(0)
    output, x = torch.randn(4, 2, 1, 5, 5) * 2, torch.randn(4, 1, 5, 5)
    model = gaussian_learned()
    assert model.outputs_per_dim == 2
    logvar = -6.0 + torch.nn.functional.softplus(output[:, 1] + 6.0)
    expected = -Normal(output[:, 0], (0.5 * logvar).exp()).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(model.nll(output, x), expected, rtol=1e-5, atol=1e-4)
    assert torch.equal(model.mean(output), output[:, 0])
    assert torch.allclose(model.std(output), (0.5 * logvar).exp())


def test_gaussian_learned_variance_has_a_smooth_floor():
    model = gaussian_learned(logvar_floor=-4.0)
    raw = torch.tensor([-1e4, -50.0, -4.0, 0.0, 20.0], requires_grad=True)
    output = torch.stack([torch.zeros(5), raw]).unsqueeze(0)  # (1, 2, 5)
    logvar = model.logvar(output)[0]
    assert logvar.min().item() >= -4.0 and logvar[0].item() == pytest.approx(-4.0)
    assert logvar[2].item() == pytest.approx(-4.0 + math.log(2.0))  # floor + softplus(0)
    assert logvar[4].item() == pytest.approx(20.0, abs=1e-6)  # far above the floor: the raw value
    # A background dimension with x = mean exactly: its loss is bounded below by the floor.
    x = torch.zeros(1, 5)
    assert model.nll(output, x).item() > 0.5 * 5 * (-4.0 + math.log(2 * math.pi)) - 1e-4
    logvar.sum().backward()
    assert (raw.grad[1:] > 0).all()  # smooth: gradients never vanish abruptly at the floor


def test_gaussian_learned_rejects_a_non_finite_floor():
    with pytest.raises(UserError, match="logvar_floor"):
        gaussian_learned(logvar_floor=float("nan"))


def test_auto_is_a_choice_among_registered_options_made_by_capability():
    """likelihood=auto stands for bernoulli then gaussian; each says whether it accepts the data
    and the model (sparse coding is bound to squared error), and the choice itself is never built."""
    from omegaconf import OmegaConf

    from aecli.likelihoods import LIKELIHOODS
    from aecli.models import build_model
    from conftest import model_cfg

    auto = OmegaConf.create({"name": "auto"})
    assert [c.name for c in LIKELIHOODS.candidates(auto)] == ["bernoulli", "gaussian"]
    gaussian = OmegaConf.create({"name": "gaussian", "sigma": 1.0})
    assert LIKELIHOODS.candidates(gaussian) == [gaussian]
    with pytest.raises(RuntimeError, match="choice"):
        LIKELIHOODS.build(auto)
    unit, signed = _data([[0.0, 1.0] * 15]), _data([[-0.5, 1.0] * 15])
    mlp = build_model(model_cfg("mlp", hidden_dims=[4]), (30,), 1)
    sparse = build_model(model_cfg("sparse_coding", latent_dim=4), (30,), 1)
    assert likelihood("bernoulli").accepts(unit, mlp) and not likelihood("bernoulli").accepts(signed, mlp)
    assert not likelihood("bernoulli").accepts(unit, sparse)
    assert "model=sparse_coding minimizes squared error" in likelihood("bernoulli").refusal(unit, sparse)
    assert likelihood("gaussian", sigma=1.0).accepts(signed, sparse)
