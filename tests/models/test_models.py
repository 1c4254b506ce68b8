"""Architectures: shapes, tied weights, the linear model, and combinations that cannot work."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from aecli.errors import UserError
from aecli.models import build_model, count_parameters
from aecli.models.mlp import MLPAutoencoder, TiedLinear


def model_cfg(name: str, **overrides):
    from conftest import REPO

    return OmegaConf.merge(OmegaConf.load(REPO / "configs" / "model" / f"{name}.yaml"), overrides)


@pytest.mark.parametrize(
    "name, shape, overrides",
    [
        ("mlp", (50,), {"latent_dim": 3}),
        ("mlp", (1, 28, 28), {"hidden_dims": [1000, 500, 250], "latent_dim": 30}),
        ("linear", (50,), {"latent_dim": 2}),
        ("linear", (1, 28, 28), {"latent_dim": 5, "bias": False}),
        ("conv", (1, 28, 28), {"latent_dim": 10}),
        ("conv", (3, 32, 32), {"channels": [8, 16, 32], "latent_dim": 4, "kernel_size": 5}),
    ],
)
@pytest.mark.parametrize("outputs_per_dim", [1, 2])
def test_encode_decode_shapes(name, shape, overrides, outputs_per_dim):
    model = build_model(model_cfg(name, **overrides), shape, outputs_per_dim)
    x = torch.rand(5, *shape)
    forward = model(x)
    code, output = forward.code, forward.output
    assert code.shape == (5, overrides["latent_dim"])
    assert output.shape == ((5, *shape) if outputs_per_dim == 1 else (5, outputs_per_dim, *shape))
    assert torch.equal(model.decode(model.encode(x)), output)


def test_hinton_mlp_has_the_paper_layer_sizes():
    model = build_model(model_cfg("mlp", hidden_dims=[1000, 500, 250], latent_dim=30), (1, 28, 28))
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (784, 1000), (1000, 500), (500, 250), (250, 30), (30, 250), (250, 500), (500, 1000), (1000, 784),
    ]


def test_linear_model_is_affine():
    model = build_model(model_cfg("linear", latent_dim=3), (10,))
    x, y = torch.randn(4, 10), torch.randn(4, 10)
    out_x, out_y = model(x).output, model(y).output
    out_mix = model(0.3 * x + 0.7 * y).output
    assert torch.allclose(out_mix, 0.3 * out_x + 0.7 * out_y, atol=1e-5)


def test_tied_weights_share_the_transposed_encoder_weights():
    tied = build_model(model_cfg("mlp", hidden_dims=[20], latent_dim=4, tied_weights=True), (12,))
    untied = build_model(model_cfg("mlp", hidden_dims=[20], latent_dim=4), (12,))
    assert count_parameters(untied) - count_parameters(tied) == 12 * 20 + 20 * 4
    decoder_layers = [m for m in tied.decoder if isinstance(m, TiedLinear)]
    encoder_layers = [m for m in tied.encoder if isinstance(m, torch.nn.Linear)]
    assert len(decoder_layers) == 2
    for dec, enc in zip(decoder_layers, reversed(encoder_layers)):
        assert dec._source[0].weight is enc.weight
    # Reconstruction gradients reach the shared weights through the decoder too.
    x = torch.randn(8, 12)
    tied(x).output.pow(2).sum().backward()
    assert encoder_layers[0].weight.grad is not None
    # The shared weight is stored once; a state-dict round trip restores the model exactly.
    state = tied.state_dict()
    assert not any(key.startswith("decoder") and key.endswith("weight") for key in state)
    copy = build_model(model_cfg("mlp", hidden_dims=[20], latent_dim=4, tied_weights=True), (12,))
    copy.load_state_dict(state)
    assert torch.equal(copy(x).output, tied(x).output)


def test_tied_linear_decoder_weight_is_encoder_transpose():
    model = build_model(model_cfg("linear", latent_dim=2, tied_weights=True, bias=False, normalize_input=False), (6,))
    weight = model.encoder[1].weight  # (2, 6)
    z = torch.randn(3, 2)
    assert torch.allclose(model.decode(z), z @ weight)


def test_tied_weights_with_two_outputs_per_dimension_is_a_user_error():
    with pytest.raises(UserError, match="tied_weights"):
        build_model(model_cfg("mlp", tied_weights=True), (50,), outputs_per_dim=2)


@pytest.mark.parametrize(
    "name, shape, overrides, message",
    [
        ("conv", (50,), {}, "needs image data"),
        ("conv", (1, 28, 28), {"channels": [8, 8, 8], "kernel_size": 7, "padding": 0}, "convolution 3 leaves no height"),
        ("conv", (1, 28, 28), {"channels": [8, 8], "strides": [2]}, "model.strides has 1 entries"),
        ("conv", (1, 28, 28), {"kernel_size": 4}, "odd"),
        ("mlp", (50,), {"latent_dim": 0}, "latent_dim"),
        ("mlp", (50,), {"hidden_dims": [10, -1]}, "hidden_dims"),
        ("mlp", (50,), {"activation": "swish"}, "activation"),
    ],
)
def test_impossible_models_are_user_errors(name, shape, overrides, message):
    with pytest.raises(UserError, match=message):
        build_model(model_cfg(name, **overrides), shape)


@pytest.mark.parametrize("name, shape", [("mlp", (12,)), ("conv", (1, 8, 8))])
def test_input_gain_decoder_rescales_the_input(name, shape):
    overrides = {"latent_dim": 3, "input_gain": True} | ({"channels": [4]} if name == "conv" else {})
    model = build_model(model_cfg(name, **overrides), shape)
    x = torch.randn(5, *shape)
    forward = model(x)
    gain = torch.sigmoid(model.decoder(forward.code).reshape(5, *shape))
    assert torch.allclose(forward.output, gain * x)
    assert torch.allclose(model.decode(model.encode(x), x), forward.output)
    with pytest.raises(ValueError):
        model.decode(forward.code)


def test_input_gain_needs_one_output_per_dimension():
    with pytest.raises(UserError, match="input_gain"):
        build_model(model_cfg("mlp", input_gain=True), (12,), outputs_per_dim=2)


# Learned filters: the first layer's weights as pictures (drawn by aecli.report.filters).


@pytest.mark.parametrize(
    "name, overrides, shape, expected",
    [
        ("mlp", {"hidden_dims": [16, 8], "latent_dim": 3}, (1, 28, 28), (16, 1, 28, 28)),  # first hidden layer's rows
        ("linear", {"latent_dim": 5}, (50,), (5, 50)),  # the code itself: one curve per latent
        ("conv", {"channels": [6, 4], "latent_dim": 3, "kernel_size": 5}, (3, 8, 8), (6, 3, 5, 5)),  # kernels
    ],
)
def test_filters_are_the_first_layers_weights_in_picture_shape(name, overrides, shape, expected):
    model = build_model(model_cfg(name, **overrides), shape, 1)
    tag, weights = model.filters()
    assert tag == "filters/first_layer" and tuple(weights.shape) == expected
    first = next(p for n, p in model.named_parameters() if n.endswith("weight"))
    torch.testing.assert_close(weights.flatten(1), first.detach().flatten(1))  # row i is unit i's weights
    assert not weights.requires_grad


def test_filters_picture_is_titled_readable_and_lays_conv_kernels_out_in_rows(tmp_path):
    from aecli.data import Dataset, Split
    from aecli.report.filters import filters_picture
    from aecli.report.pictures import write_picture
    from aecli.report.figures import plt

    images = Dataset("toy", *(Split(torch.rand(4, 3, 8, 8)) for _ in range(3)), kind="image")
    conv = build_model(model_cfg("conv", channels=[16, 4], latent_dim=3, kernel_size=3), (3, 8, 8), 1)
    tag, figure = filters_picture(conv, images, max_filters=100)
    grid = figure.axes[0].images[0].get_array()
    assert grid.shape == (2 * 4 + 1, 8 * 4 + 1, 3)  # 16 kernels of 3 x 3: two rows of 8, 1-pixel gaps
    assert 0 <= grid.min() and grid.max() <= 1
    assert figure.axes[0].get_title() == "filters/first_layer: 16 of 16, 3x3 each, each scaled to its own range"

    mlp = build_model(model_cfg("mlp", hidden_dims=[30], latent_dim=2), (1, 8, 8), 1)
    _, figure = filters_picture(mlp, images, max_filters=20)
    assert figure.axes[0].get_title().startswith("filters/first_layer: 20 of 30, 8x8 each")

    signals = Dataset("toy", *(Split(torch.rand(4, 50)) for _ in range(3)), kind="signal", axis=torch.linspace(0, 1, 50))
    _, figure = filters_picture(build_model(model_cfg("linear", latent_dim=3), (50,), 1), signals, max_filters=100)
    assert isinstance(figure, plt.Figure) and len([ax for ax in figure.axes if ax.lines]) == 3
    assert figure.get_suptitle() == "filters/first_layer: 3 of 3, on a common scale"

    class Writer:
        def add_figure(self, *args):
            self.figure = args

    writer = Writer()
    tag, figure = filters_picture(conv, images, max_filters=100)
    write_picture(writer, tag, figure, tmp_path / "filters.png", 7)
    height, width = plt.imread(tmp_path / "filters.png").shape[:2]
    assert width >= 600 and height >= 200 and writer.figure[0] == tag and writer.figure[2] == 7  # a size a person reads


def test_a_tied_network_can_be_rebuilt_from_scratch_for_finetune():
    from aecli.engine.finetune import fresh_copy

    model = build_model(model_cfg("mlp", hidden_dims=[8], latent_dim=2, tied_weights=True), (10,), 1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(0.5)
    fresh = fresh_copy(model, seed=0)
    assert all(not torch.all(p == 0.5) for p in fresh.parameters())  # every weight and bias re-initialised


def test_mlp_batch_norm_sits_after_each_hidden_layer_not_on_the_code_or_output():
    model = build_model(model_cfg("mlp", hidden_dims=[20, 10], latent_dim=3, batch_norm=True), (12,))
    kinds = [type(m).__name__ for m in [*model.encoder, *model.decoder]]
    assert kinds == ["Flatten", "Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU", "Linear",
                     "Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert [m.num_features for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)] == [20, 10, 10, 20]
    assert len(model.hidden_layers) == 2 and all(isinstance(m, torch.nn.ReLU) for m in model.hidden_layers)
    tied = build_model(model_cfg("mlp", hidden_dims=[20], latent_dim=3, batch_norm=True, tied_weights=True), (12,))
    assert [m.num_features for m in tied.modules() if isinstance(m, torch.nn.BatchNorm1d)] == [20, 20]
    linear = MLPAutoencoder((12,), [20], 3, activation_name=None, batch_norm=True)
    assert not linear.is_linear  # batch statistics couple the samples
