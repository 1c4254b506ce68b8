"""The linear model's centring and scale (aecli.models.scaling): an exact inverse on the output,
the same function family, PCA's subspace at the default optimizer settings."""

from __future__ import annotations

import json

import pytest
import torch
from omegaconf import OmegaConf

from aecli.runs.config import migrate
from aecli.models import build_model
from aecli.models.scaling import InputScaling
from conftest import model_cfg, train_in_process


def test_scaling_holds_the_training_mean_and_one_overall_scale():
    x = torch.randn(400, 5, dtype=torch.float64) * torch.tensor([1.0, 2.0, 3.0, 0.5, 0.1]) + 7.0
    scaling = InputScaling(5)
    scaling.fit(x)
    assert scaling.mean.double() == pytest.approx(x.mean(0), abs=1e-6)
    assert scaling.scale.item() == pytest.approx((x - x.mean(0)).pow(2).mean().sqrt().item(), rel=1e-6)
    constant = InputScaling(3)
    constant.fit(torch.full((10, 3), 4.0))
    assert constant.scale.item() == 1.0  # constant data: nothing to divide by


@pytest.mark.parametrize("outputs_per_dim", [1, 2])
def test_normalized_linear_model_is_still_affine_and_its_decoder_undoes_the_centring(outputs_per_dim):
    torch.manual_seed(0)
    model = build_model(model_cfg("linear", latent_dim=2), (6,), outputs_per_dim)
    train = torch.randn(100, 6) * 3 + 10
    model.fit_input(train)
    x, y = torch.randn(4, 6), torch.randn(4, 6)
    mixed = model(0.3 * x + 0.7 * y).output
    assert torch.allclose(mixed, 0.3 * model(x).output + 0.7 * model(y).output, atol=1e-4)
    decoder_linear = model.decoder[0]
    with torch.no_grad():  # a decoder that outputs zero everywhere: the mean block is the training mean
        decoder_linear.weight.zero_()
        decoder_linear.bias.zero_()
    output = model(x).output
    mean_block = output if outputs_per_dim == 1 else output[:, 0]
    assert torch.allclose(mean_block, train.mean(0).expand(4, 6), atol=1e-5)
    if outputs_per_dim == 2:  # a learned log-variance is left as the decoder gives it
        assert torch.equal(output[:, 1], torch.zeros(4, 6))


def test_the_statistics_travel_in_the_state_dict_once_and_old_runs_keep_a_plain_model():
    model = build_model(model_cfg("linear", latent_dim=2), (6,))
    assert sorted(k for k in model.state_dict() if "mean" in k or "scale" in k) == ["encoder.1.mean", "encoder.1.scale"]
    old = model_cfg("linear", latent_dim=2)
    del old["normalize_input"]  # a run saved before the key existed
    cfg = migrate(OmegaConf.create({"model": OmegaConf.to_container(old)}))
    assert cfg.model.normalize_input is False
    plain = build_model(cfg.model, (6,))
    assert not any(isinstance(m, InputScaling) for m in plain.modules())
    # Only a model that holds statistics asks build_experiment for the whole train split as float.
    assert model.needs_input_statistics is True and plain.needs_input_statistics is False


def _trained_at_the_defaults(dataset: str) -> float:
    """The largest principal angle (degrees) to PCA of the train split of a linear model with a
    2-D code trained with every default of configs/train.yaml (Adam, lr 1e-3, batch 128, 30
    epochs, the wsd schedule) and of the model (centred input, balanced orthogonal start): the
    training loop's own steps without its validation, checkpoints and logs."""
    from hydra import compose, initialize_config_module

    from aecli.engine.experiment import build_experiment
    from aecli.engine.optim import build_optimizer, make_step_loss
    from aecli.engine.schedule import Schedule
    from aecli.evaluation import metrics
    from aecli.evaluation.scores import decoder_basis

    with initialize_config_module("aecli.configs", version_base="1.3"):
        cfg = compose("train", overrides=[f"dataset={dataset}", "model=linear", "model.latent_dim=2"])
    torch.manual_seed(cfg.seed)
    experiment = build_experiment(cfg, torch.device("cpu"))
    model, train, trainer = experiment.model, experiment.data.train, cfg.trainer
    optimizer = build_optimizer(model, trainer)
    step_loss = make_step_loss(model, experiment.likelihood, experiment.regularizers, trainer)
    schedule = Schedule.from_config(trainer)
    for epoch in range(1, trainer.epochs + 1):
        for group in optimizer.param_groups:
            group["lr"] = schedule.lr_at(epoch)
        for index in torch.randperm(len(train)).split(trainer.batch_size):
            optimizer.zero_grad(set_to_none=True)
            step_loss(train.batch(index))["total"].backward()
            optimizer.step()
    pca = metrics.fit_pca(train.x.numpy(), 2)
    return metrics.largest_principal_angle_deg(decoder_basis(model), pca.components_.T)


@pytest.mark.parametrize("dataset", ["lines", "damped_oscillation"])
def test_linear_autoencoder_reaches_pcas_subspace_at_the_default_settings(dataset):
    """The lines, centred on y = 7.5, ended 69 degrees away before the model centred its input."""
    assert _trained_at_the_defaults(dataset) < 1.0


@pytest.mark.slow
def test_aecli_train_of_a_linear_model_on_lines_reports_pcas_subspace(tmp_path):
    """The user's command: `aecli train model=linear model.latent_dim=2 evaluate_after=true`
    (best.pt, evaluated)."""
    overrides = ["model=linear", "model.latent_dim=2", "evaluate_after=true", "tsne.enabled=false"]
    train_in_process(overrides, tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["pca_angle_deg"] < 1.0


def test_the_linear_model_starts_as_a_projection_onto_a_random_subspace():
    torch.manual_seed(0)
    model = build_model(model_cfg("linear", latent_dim=3), (10,))
    encoder, decoder = (next(m for m in part if isinstance(m, torch.nn.Linear)) for part in (model.encoder, model.decoder))
    assert torch.allclose(encoder.weight @ encoder.weight.T, torch.eye(3), atol=1e-6)
    assert torch.equal(decoder.weight, encoder.weight.T) and not encoder.bias.any() and not decoder.bias.any()
    torch.manual_seed(0)
    again = build_model(model_cfg("linear", latent_dim=3), (10,))
    assert torch.equal(next(iter(again.parameters())), encoder.weight)  # seeded
    torch.manual_seed(0)
    plain = build_model(model_cfg("linear", latent_dim=3, init="default"), (10,))
    assert not torch.equal(plain.decoder[0].weight, plain.encoder[2].weight.T)
    # Outputs in blocks (a VAE's mean and log-variance, a learned decoder variance): the mean blocks
    # mirror each other, the others start at zero, a variance of 1 for every input.
    from aecli.models import GaussianBottleneck

    vae = build_model(model_cfg("linear", latent_dim=3), (10,), 2, GaussianBottleneck())
    encoder, decoder = (next(m for m in part if isinstance(m, torch.nn.Linear)) for part in (vae.encoder, vae.decoder))
    assert encoder.weight.shape == (6, 10) and decoder.weight.shape == (20, 3)
    assert torch.allclose(encoder.weight[:3] @ encoder.weight[:3].T, torch.eye(3), atol=1e-6)
    assert torch.equal(decoder.weight[:10], encoder.weight[:3].T)
    assert not encoder.weight[3:].any() and not decoder.weight[10:].any() and not encoder.bias.any() and not decoder.bias.any()


def test_an_mlp_may_centre_its_input_too_but_not_under_layerwise_pretraining():
    from aecli.errors import UserError

    model = build_model(model_cfg("mlp", hidden_dims=[8], latent_dim=2, normalize_input=True), (6,))
    model.fit_input(torch.randn(50, 6) + 5)
    assert model.encoder[1].mean.mean().item() == pytest.approx(5, abs=0.5)
    with pytest.raises(UserError, match="model.normalize_input=false"):
        model.stages()
