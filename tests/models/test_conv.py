"""The conv model's knobs: per-layer kernels and strides, padding, batch norm, a hidden fully
connected layer, separate mean and log-variance heads; old runs build the network they saved."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from aecli.runs.config import migrate
from aecli.errors import UserError
from aecli.models import build_model
from aecli.models.bottleneck import GaussianBottleneck
from aecli.models.conv import Heads
from conftest import model_cfg


@pytest.mark.parametrize(
    "shape, overrides",
    [
        ((1, 28, 28), {"channels": [8, 8, 8]}),  # 28 -> 14 -> 7 -> 4 and exactly back (was refused: 28 % 8)
        ((1, 28, 28), {"channels": [8, 16], "kernel_sizes": [5, 5], "strides": [1, 2], "padding": 2}),
        ((3, 30, 20), {"channels": [4, 4, 4], "kernel_sizes": [3, 5, 3], "strides": [2, 3, 1]}),
        ((1, 28, 28), {"channels": [8, 16], "kernel_sizes": [5, 5], "padding": 0}),  # 28 -> 12 -> 4, back 4 -> 11+1 -> 27+1
    ],
)
def test_every_geometry_gives_back_the_input_shape(shape, overrides):
    model = build_model(model_cfg("conv", latent_dim=3, **overrides), shape, 2)
    x = torch.rand(2, *shape)
    assert model(x).output.shape == (2, 2, *shape)


def test_batch_norm_and_a_hidden_layer_sit_where_the_anchors_put_them():
    model = build_model(model_cfg("conv", channels=[4, 8], batch_norm=True, hidden_dim=250, latent_dim=10), (1, 28, 28),
                        bottleneck=GaussianBottleneck())
    encoder_types = [type(m) for m in model.encoder]
    assert encoder_types[:3] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    linears = [(m.in_features, m.out_features) for m in model.encoder if isinstance(m, nn.Linear)]
    assert linears == [(8 * 7 * 7, 250), (250, 20)]  # flat -> 250 -> a mean and a log-variance per latent
    assert [(m.in_features, m.out_features) for m in model.decoder if isinstance(m, nn.Linear)] == [(10, 250), (250, 392)]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.decoder) == 1  # the hidden transposed stage, not the output
    assert len(model.hidden_layers) == 3  # two convolutions' activations and the hidden layer's
    assert model(torch.rand(4, 1, 28, 28)).output.shape == (4, 1, 28, 28)


def test_separate_heads_emit_the_mean_and_the_log_variance_each_from_its_own_convolution():
    model = build_model(model_cfg("conv", channels=[4, 8], separate_heads=True), (1, 28, 28), 2)
    heads = model.decoder[-1]
    assert isinstance(heads, Heads) and len(heads.heads) == 2
    x = torch.rand(3, 1, 28, 28)
    output = model(x).output  # (B, 2, C, H, W): the mean's block first, as the likelihood reads it
    hidden = model.decoder[:-1](model.encode(x))
    assert torch.equal(output[:, 0], heads.heads[0](hidden))
    assert torch.equal(output[:, 1], heads.heads[1](hidden))
    with torch.no_grad():  # the heads are independent: changing the log-variance head leaves the mean
        heads.heads[1].bias.add_(1.0)
    assert torch.equal(model(x).output[:, 0], output[:, 0])


def test_an_old_conv_run_builds_the_network_it_saved():
    old = OmegaConf.create({"model": {"name": "conv", "channels": [32, 64], "kernel_size": 3, "latent_dim": 10,
                                      "activation": "relu", "tied_weights": False}})
    model = build_model(migrate(old).model, (1, 28, 28))
    keys = sorted({key.rsplit(".", 1)[0] for key in model.state_dict()})
    assert keys == ["decoder.0", "decoder.3", "decoder.5", "encoder.0", "encoder.2", "encoder.5"]
