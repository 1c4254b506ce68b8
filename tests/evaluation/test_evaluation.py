"""The torch side of evaluate and visualize-latents: decoder subspaces, Jacobian means,
override handling and latent embeddings, against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from aecli.evaluation import metrics
from aecli.errors import UserError
from aecli.evaluation.scores import decoder_basis, mean_squared_jacobian_norm
from aecli.report.latents import check_method, embed_codes, subsample
from aecli.models.mlp import MLPAutoencoder
from aecli.runs.open import command_overrides


def linear_model(tied: bool = False, outputs_per_dim: int = 1) -> MLPAutoencoder:
    torch.manual_seed(0)
    return MLPAutoencoder((6,), [], 2, activation_name=None, tied_weights=tied, outputs_per_dim=outputs_per_dim)


@pytest.mark.parametrize("tied", [False, True])
def test_decoder_basis_is_the_linear_decoders_weight(tied):
    model = linear_model(tied)
    expected = model.encoder[1].weight.T if tied else model.decoder[0].weight
    assert decoder_basis(model) == pytest.approx(expected.detach().double().numpy(), abs=1e-7)


def test_decoder_basis_takes_the_mean_block_of_several_outputs_per_dimension():
    model = linear_model(outputs_per_dim=2)
    weight = model.decoder[0].weight.detach().double().numpy()  # (2 * 6, 2): the mean's rows first
    assert decoder_basis(model) == pytest.approx(weight[:6], abs=1e-7)


def test_linear_model_spanning_the_pca_plane_is_at_angle_zero():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 6)) * np.array([5.0, 0.1, 3.0, 0.1, 0.1, 0.1])
    model = linear_model()
    with torch.no_grad():  # decoder columns: a mixture of the top two principal directions
        model.decoder[0].weight.copy_(torch.from_numpy(metrics.pca_basis(x, 2) @ np.array([[1.0, 2.0], [-1.0, 0.5]])))
    assert metrics.largest_principal_angle_deg(decoder_basis(model), metrics.pca_basis(x, 2)) < 1e-3
    with torch.no_grad():  # a direction of tiny variance in place of the second one: 90 degrees
        model.decoder[0].weight.copy_(torch.from_numpy(np.eye(6)[:, [0, 1]]))
    assert metrics.largest_principal_angle_deg(decoder_basis(model), metrics.pca_basis(x, 2)) > 89.0


def test_jacobian_norm_of_a_linear_encoder_is_its_weights_frobenius_norm_at_every_batch_size():
    model = linear_model()
    expected = model.encoder[1].weight.pow(2).sum().item()
    x = torch.randn(10, 6)
    for batch_size in (1, 3, 10):
        assert mean_squared_jacobian_norm(model, x, batch_size) == pytest.approx(expected, rel=1e-5)


def test_command_overrides_keep_only_the_runs_keys_that_were_set():
    cfg = OmegaConf.create(
        {"run": "r", "checkpoint": "best", "trainer": {"device": "cpu", "eval_batch_size": None},
         "data": {"root": None, "download": None}, "dataset": {"test_size": 50}}
    )
    assert command_overrides(cfg, {"run", "checkpoint"}) == {"trainer": {"device": "cpu"}, "dataset": {"test_size": 50}}


def test_subsample_is_sorted_fixed_by_seed_and_whole_when_small():
    index = subsample(1000, 50, seed=3)
    assert len(index) == 50 and np.all(np.diff(index) > 0)
    assert np.array_equal(index, subsample(1000, 50, seed=3))
    assert not np.array_equal(index, subsample(1000, 50, seed=4))
    assert np.array_equal(subsample(30, 50, seed=3), np.arange(30))


def test_embeddings_draw_what_they_say():
    codes = torch.randn(80, 2) * torch.tensor([3.0, 0.5])
    scatter = embed_codes(codes, "scatter", 40, 30.0, seed=0)
    assert scatter.points == pytest.approx(codes[scatter.index].double().numpy())
    pca = embed_codes(codes, "pca", 80, 30.0, seed=0)
    # a rotation (and reflection) of the centered codes: distances are kept
    centered = codes.double().numpy() - codes.double().numpy().mean(0)
    assert np.linalg.norm(pca.points, axis=1) == pytest.approx(np.linalg.norm(centered, axis=1))
    assert [label.split(" (")[0] for label in pca.axis_labels] == ["PC 1", "PC 2"] and scatter.axis_labels == ("z0", "z1")


@pytest.mark.parametrize(
    "method, latent_dim, message",
    [("umap", 2, "method=umap is unknown"), ("scatter", 3, "this run's code is 3-D"), ("pca", 1, "method=pca needs")],
)
def test_methods_that_cannot_draw_the_code_are_refused(method, latent_dim, message):
    with pytest.raises(UserError, match=message):
        check_method(method, latent_dim)
