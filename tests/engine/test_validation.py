"""Validation of a denoising run: the training corruption, drawn from a fixed seed (the same
figures every epoch), the global generators untouched; clean input everywhere else."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from aecli.data.base import Split
from aecli.engine.steps import evaluate_split
from aecli.likelihoods import build_likelihood
from aecli.models.mlp import MLPAutoencoder
from conftest import regularizers

LEVEL = 0.3


def _input_gain_identity(dim: int) -> MLPAutoencoder:
    """A decoder whose gain saturates at 1: it hands back whatever input the encoder saw."""
    model = MLPAutoencoder((dim,), [], 2, activation_name=None, input_gain=True)
    with torch.no_grad():
        model.decoder[0].weight.zero_()
        model.decoder[0].bias.fill_(30.0)
    return model


def test_validation_of_a_denoising_run_repeats_and_does_not_reward_the_identity():
    torch.manual_seed(0)
    dim = 40
    split = Split(torch.rand(300, dim))
    model = _input_gain_identity(dim)
    likelihood = build_likelihood(OmegaConf.create({"name": "gaussian", "sigma": 1.0}))
    denoising = regularizers(denoising={"noise": "gaussian", "level": LEVEL})

    clean = evaluate_split(model, likelihood, denoising, split, 128)
    assert clean["recon_sse"] == pytest.approx(0.0, abs=1e-6)  # on clean input the identity is perfect

    before = torch.get_rng_state()
    first = evaluate_split(model, likelihood, denoising, split, 128, corruption_seed=7)
    assert torch.equal(torch.get_rng_state(), before)  # training's noise sequence continues untouched
    assert first["recon_sse"] == pytest.approx(LEVEL**2 * dim, rel=0.05)  # it hands back the noise
    torch.rand(5)  # whatever training drew in between
    assert evaluate_split(model, likelihood, denoising, split, 128, corruption_seed=7) == first
    assert evaluate_split(model, likelihood, denoising, split, 128, corruption_seed=8) != first


def test_a_run_without_corruption_validates_on_clean_input_whatever_the_seed():
    torch.manual_seed(0)
    split = Split(torch.rand(50, 6))
    model = MLPAutoencoder((6,), [], 2, activation_name=None)
    likelihood = build_likelihood(OmegaConf.create({"name": "gaussian", "sigma": 1.0}))
    l2 = regularizers(l2={"weight": 0.1})
    assert evaluate_split(model, likelihood, l2, split, 16, corruption_seed=3) == evaluate_split(model, likelihood, l2, split, 16)
