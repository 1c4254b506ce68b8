"""Reconstruction losses are exact negative log-likelihoods, nats per sample."""

from __future__ import annotations

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
    likelihood("bernoulli").check_data(_data([[0.0, 1.0]]))
    with pytest.raises(UserError, match="needs data in \\[0, 1\\]"):
        likelihood("bernoulli").check_data(_data([[-0.5, 1.0]]))


def test_bad_sigma_and_unknown_likelihood_are_user_errors():
    with pytest.raises(UserError):
        likelihood("gaussian", sigma=0.0)
    with pytest.raises(UserError, match="not available"):
        likelihood("laplace")
