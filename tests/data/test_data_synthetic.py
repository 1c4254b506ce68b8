"""The generated datasets: shapes, ranges, the formulas, factors, noise, splits, seeds."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf

from aecli.data import build_dataset
from aecli.errors import UserError



def dataset_cfg(name: str, **overrides):
    cfg = OmegaConf.load(f"configs/dataset/{name}.yaml")
    return OmegaConf.merge(cfg, overrides)


def load(name: str, **overrides):
    return build_dataset(dataset_cfg(name, **overrides), OmegaConf.create({"root": None, "download": False}))


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch):
    from conftest import REPO

    monkeypatch.chdir(REPO)


@pytest.mark.parametrize("name, factor_names", [("lines", ("a", "b")), ("damped_oscillation", ("k", "b"))])
def test_default_shapes_splits_and_factor_ranges(name, factor_names):
    data = load(name)
    assert data.sample_shape == (50,)
    assert (len(data.train), len(data.val), len(data.test)) == (8000, 1000, 1000)
    assert data.factor_names == factor_names
    cfg = dataset_cfg(name)
    for split in (data.train, data.val, data.test):
        assert split.factors.shape == (len(split), 2)
        for j, factor in enumerate(factor_names):
            low, high = cfg[f"{factor}_range"]
            assert split.factors[:, j].min() >= low and split.factors[:, j].max() <= high
    all_factors = torch.cat([data.train.factors, data.val.factors, data.test.factors])
    assert len(torch.unique(all_factors, dim=0)) == 10000  # the splits are disjoint draws


def test_lines_follow_the_formula():
    data = load("lines")
    x = torch.linspace(-10, 10, 50)
    assert torch.allclose(data.axis, x)
    a, b = data.test.factors[:, :1], data.test.factors[:, 1:]
    assert torch.allclose(data.test.x, a * x + b, atol=1e-5)
    assert data.test.x.min() >= 1.0 * -10 + 5 - 1e-4 and data.test.x.max() <= 1.0 * 10 + 10 + 1e-4


def test_damped_oscillation_follows_the_lecture_formula():
    data = load("damped_oscillation")
    t = torch.linspace(0, 10, 50)
    assert torch.allclose(data.axis, t)
    for (k, b), x in zip(data.test.factors[:20].tolist(), data.test.x[:20]):
        expected = [math.exp(-b * ti / 2) * math.cos(math.sqrt(k) * (1 - b**2 / (4 * k)) * ti) for ti in t.tolist()]
        assert torch.allclose(x, torch.tensor(expected), atol=1e-5)
    assert torch.allclose(data.train.x[:, 0], torch.ones(len(data.train)))  # x(0) = 1
    assert data.train.x.abs().max() <= 1 + 1e-6


def test_grid_sampling_covers_the_grid():
    data = load("lines", sampling="grid", grid_size=7)
    factors = torch.cat([data.train.factors, data.val.factors, data.test.factors])
    assert len(factors) == 49
    assert sorted(set(round(v, 6) for v in factors[:, 0].tolist())) == [round(v, 6) for v in torch.linspace(0.5, 1, 7).tolist()]


def test_noise_is_additive_with_the_configured_std():
    clean, noisy = load("lines"), load("lines", noise_std=0.3)
    assert torch.equal(clean.train.factors, noisy.train.factors)
    residual = noisy.train.x - clean.train.x
    assert abs(residual.mean().item()) < 0.01
    assert residual.std().item() == pytest.approx(0.3, rel=0.02)


def test_standardize_uses_train_statistics_and_denormalize_inverts():
    raw, scaled = load("damped_oscillation"), load("damped_oscillation", normalize="standardize")
    assert torch.allclose(scaled.train.x[:, 1:].mean(0), torch.zeros(49), atol=1e-4)
    assert torch.allclose(scaled.train.x[:, 1:].std(0), torch.ones(49), atol=1e-3)
    assert torch.allclose(scaled.denormalize(scaled.test.x), raw.test.x, atol=1e-5)


def test_same_seed_same_data_other_seed_other_data():
    assert torch.equal(load("lines").train.x, load("lines").train.x)
    assert not torch.equal(load("lines").train.x, load("lines", seed=1).train.x)


@pytest.mark.parametrize(
    "overrides",
    [{"num_points": 1}, {"noise_std": -1.0}, {"normalize": "zscore"}, {"val_fraction": 0.0}, {"b_range": [10, 5]}],
)
def test_bad_settings_are_user_errors(overrides):
    with pytest.raises(UserError):
        load("lines", **overrides)
