"""The conditional VAE (model.conditional=true): the label input is the one-hot concatenation it
stands for, a conditional model's bounds are those of the unconditional network its class turns it
into, and a short run samples, encodes and refuses as documented."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from aecli.data import Split
from aecli.errors import UserError
from aecli.models import build_model
from aecli.models.conditional import LabelledSequential
from aecli.regularizers import bottleneck_for
from conftest import model_cfg, regularizers, run_cli


def test_the_label_input_is_a_one_hot_concatenated_to_the_first_layers_input():
    torch.manual_seed(0)
    net = LabelledSequential(nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3)), classes=5)
    x, y = torch.randn(7, 2, 3), torch.randint(5, (7,))
    first = net[1]
    concatenated = nn.Linear(6 + 5, 4)
    with torch.no_grad():
        concatenated.weight.copy_(torch.cat([first.weight, net.labels], dim=1))
        concatenated.bias.copy_(first.bias)
    expected = net[3](torch.relu(concatenated(torch.cat([x.flatten(1), nn.functional.one_hot(y, 5).float()], dim=1))))
    torch.testing.assert_close(net(x, y), expected)
    with pytest.raises(UserError, match="model.conditional=true"):
        net(x)


def test_a_first_convolution_gets_one_constant_map_per_class():
    torch.manual_seed(0)
    net = LabelledSequential(nn.Sequential(nn.Conv2d(1, 3, 3, padding=1)), classes=4)
    x, y = torch.randn(2, 1, 5, 5), torch.tensor([1, 3])
    shift = net(x, y) - net[0](x)
    torch.testing.assert_close(shift, net.labels.t()[y][..., None, None].expand(2, 3, 5, 5))


def conditional_vae(latent_dim=2, classes=3):
    torch.manual_seed(0)
    cfg = model_cfg("mlp", hidden_dims=[8], latent_dim=latent_dim, conditional=True)
    return build_model(cfg, (5,), 1, bottleneck_for(regularizers(vae={}), latent_dim), classes)


def test_a_conditional_vaes_bounds_are_those_of_the_network_its_class_makes_of_it():
    """All of class c: a conditional model equals the plain one with labels[:, c] added to the first
    biases of encoder and decoder, so per_sample_bounds agree draw for draw."""
    from aecli.likelihoods import build_likelihood
    from aecli.regularizers.vae import per_sample_bounds
    from omegaconf import OmegaConf

    model = conditional_vae().double()
    likelihood = build_likelihood(OmegaConf.create({"name": "gaussian", "sigma": 1.0}))
    x, c = torch.randn(6, 5, dtype=torch.float64), 2
    plain = copy.deepcopy(model)
    for name in ("encoder", "decoder"):
        labelled = getattr(plain, name)
        layers = nn.Sequential(*labelled)
        with torch.no_grad():
            layers[labelled.at].bias += labelled.labels[:, c]
        setattr(plain, name, layers)
    plain.classes = 0
    torch.manual_seed(1)
    given = per_sample_bounds(model, likelihood, Split(x, torch.full((6,), c)), num_samples=7, batch_size=14)[0]
    torch.manual_seed(1)
    expected = per_sample_bounds(plain, likelihood, Split(x), num_samples=7, batch_size=14)[0]
    for key in ("elbo", "nll_iw", "kl"):
        torch.testing.assert_close(given[key], expected[key])
    torch.manual_seed(1)
    other = per_sample_bounds(model, likelihood, Split(x, torch.full((6,), 0)), num_samples=7, batch_size=14)[0]
    assert not torch.allclose(other["elbo"], given["elbo"])  # the label matters


def test_conditioning_needs_labels_and_is_refused_by_layerwise_pretraining():
    cfg = model_cfg("mlp", hidden_dims=[8], latent_dim=2, conditional=True)
    with pytest.raises(UserError, match="model.conditional=true feeds each sample's class label.*no labels"):
        build_model(cfg, (5,), 1, None, 0)
    model = build_model(cfg, (5,), 1, None, 3)
    with pytest.raises(UserError, match="layerwise.*model.conditional=false"):
        model.stages()


CVAE = ("dataset=digits", "regularizer=vae", "model.conditional=true", "model.hidden_dims=[32]", "model.latent_dim=2",
        "trainer.epochs=2", "tsne.enabled=false")


def test_a_conditional_run_samples_by_class_and_asks_for_labels_where_it_needs_them(trained_run, tmp_path):
    import aecli

    run = trained_run(*CVAE, copy_to=tmp_path / "run")
    assert (run / "samples.png").is_file()
    loaded = aecli.load_run(run)
    assert loaded.model.classes == 10
    sevens = loaded.sample(4, seed=0, label=7)
    assert sevens.shape == (4, 1, 8, 8)
    mixed = loaded.sample(4, seed=0, label=[7, 1, 7, 1])
    np.testing.assert_allclose(mixed[0], sevens[0], rtol=1e-5)
    assert not np.allclose(mixed[1], sevens[1])
    with pytest.raises(UserError, match="conditional VAE.*pass label="):
        loaded.sample(4)
    with pytest.raises(UserError, match="holds class 10, but this run knows classes 0..9"):
        loaded.sample(2, label=10)
    with pytest.raises(UserError, match="has 3 class indices for 4 samples"):
        loaded.sample(4, label=[1, 2, 3])
    x = loaded.experiment.data.test.x[:3].cpu().numpy()
    codes = loaded.encode(x, labels=[0, 1, 2])
    assert codes.shape == (3, 2)
    assert loaded.reconstruct(x, labels=2).shape == x.shape
    with pytest.raises(UserError, match="pass labels="):
        loaded.encode(x)
    result = run_cli("finetune", f"run={run}", "labels=100", check=False)
    assert result.returncode == 2 and "takes the label as input" in result.stderr
