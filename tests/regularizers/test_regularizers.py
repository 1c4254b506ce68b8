"""The classic regularizers: exact penalties, corruption statistics, composition, bad input."""

from __future__ import annotations

import json
import math

import pytest
import torch
from omegaconf import OmegaConf
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

from aecli.data import Dataset, Split
from aecli.errors import UserError
from aecli.models.jacobian import squared_jacobian_norm
from aecli.likelihoods import build_likelihood
from aecli.models import build_model
from aecli.regularizers import build_regularizers
from aecli.regularizers.sparse_kl import kl_sparsity
from aecli.engine.steps import evaluate_split, loss_terms
from conftest import model_cfg, regularizers, REPO, TINY, run_cli






def toy_data(x: torch.Tensor) -> Dataset:
    split = Split(x)
    return Dataset("toy", split, split, split, kind="signal")


def brute_force_jacobian_norm(model, x):
    norms = []
    for sample in x:
        jac = torch.autograd.functional.jacobian(lambda v: model.encode(v[None])[0], sample)
        norms.append(jac.pow(2).sum())
    return torch.stack(norms)


def test_random_projections_estimate_the_jacobian_norm_without_bias():
    """E ||v^T J||^2 = ||J||_F^2 for v ~ N(0, I): many single-projection estimates average to the
    exact norm, and their spread shrinks with more projections."""
    torch.manual_seed(0)
    model = build_model(model_cfg("conv", channels=[4, 6], latent_dim=3), (1, 8, 8)).double()
    x = torch.randn(4, 1, 8, 8, dtype=torch.float64)
    exact = brute_force_jacobian_norm(model, x)
    one = torch.stack([squared_jacobian_norm(model, x, projections=1) for _ in range(2000)])
    assert torch.allclose(one.mean(0), exact, rtol=0.08)
    many = torch.stack([squared_jacobian_norm(model, x, projections=16) for _ in range(200)])
    assert (many.std(0) < one.std(0) / 2).all()
    (penalty,) = regularizers(contractive={"weight": 1.0, "projections": 2})
    penalty.penalty(model, x, model(x))["contractive"].backward()  # differentiable like the exact one
    assert all(p.grad is not None for n, p in model.encoder.named_parameters() if n.endswith("weight"))


@pytest.mark.parametrize(
    "name, shape, overrides",
    [
        ("mlp", (12,), {"hidden_dims": [16, 8], "latent_dim": 3, "activation": "tanh"}),
        ("mlp", (12,), {"hidden_dims": [], "latent_dim": 5, "code_activation": "sigmoid"}),  # closed form
        ("mlp", (12,), {"hidden_dims": [10], "latent_dim": 4, "activation": "sigmoid", "code_activation": "sigmoid"}),
        ("conv", (1, 8, 8), {"channels": [4, 6], "latent_dim": 3}),
    ],
)
def test_contractive_norm_equals_brute_force_jacobian(name, shape, overrides):
    torch.manual_seed(0)
    model = build_model(model_cfg(name, **overrides), shape).double()
    x = torch.randn(6, *shape, dtype=torch.float64)
    assert torch.allclose(squared_jacobian_norm(model, x), brute_force_jacobian_norm(model, x), rtol=1e-9, atol=1e-12)
    # The training penalty is differentiable with respect to the encoder's parameters.
    (penalty,) = regularizers(contractive={"weight": 0.5})
    value = penalty.penalty(model, x, model(x))["contractive"]
    assert torch.allclose(value, 0.5 * brute_force_jacobian_norm(model, x).mean())
    value.backward()
    # (a linear code layer's bias does not move the Jacobian, so only weights must get gradients)
    assert all(p.grad is not None for n, p in model.encoder.named_parameters() if n.endswith("weight"))


def test_kl_sparsity_matches_the_formula_on_hand_made_activations():
    activations = torch.tensor([[0.1, 0.5, 0.9], [0.3, 0.5, 0.7]])
    rho = 0.05
    expected = 0.0
    for rho_hat in (0.2, 0.5, 0.8):
        expected += rho * math.log(rho / rho_hat) + (1 - rho) * math.log((1 - rho) / (1 - rho_hat))
    assert kl_sparsity(rho, activations).item() == pytest.approx(expected, rel=1e-6)
    assert kl_sparsity(0.3, torch.full((4, 2), 0.3)).item() == pytest.approx(0.0, abs=1e-7)


def test_sparse_penalties_on_code_and_hidden_layers():
    torch.manual_seed(0)
    model = build_model(model_cfg("mlp", hidden_dims=[7], latent_dim=3, activation="sigmoid", code_activation="sigmoid"), (5,))
    data = toy_data(torch.rand(10, 5))
    kl_code, l1_hidden = regularizers(sparse_kl={"weight": 2.0}, sparse_l1={"weight": 0.1, "layer": 1})
    for r in (kl_code, l1_hidden):
        r.check(model, data)
    x = data.train.x
    forward = model(x)
    hidden = torch.sigmoid(model.encoder[1](x))
    assert torch.allclose(kl_code.penalty(model, x, forward)["sparse_kl"], 2.0 * kl_sparsity(0.05, forward.code))
    assert torch.allclose(l1_hidden.penalty(model, x, forward)["sparse_l1"], 0.1 * hidden.abs().sum(1).mean())


def test_l2_penalizes_weights_not_biases_and_tied_weights_once():
    model = build_model(model_cfg("mlp", hidden_dims=[6], latent_dim=2, tied_weights=True), (4,))
    (l2,) = regularizers(l2={"weight": 0.5})
    weights = [m.weight for m in model.encoder if isinstance(m, torch.nn.Linear)]
    expected = 0.5 * sum(w.pow(2).sum() for w in weights)
    x = torch.randn(3, 4)
    assert torch.allclose(l2.penalty(model, x, model(x))["l2"], expected)


def test_denoising_corruption_statistics():
    torch.manual_seed(0)
    x = torch.full((400, 500), 0.5)
    (masking,) = regularizers(denoising={"noise": "masking", "level": 0.3})
    masked = masking.corrupt(x)
    assert ((masked == 0).float().mean() - 0.3).abs() < 0.005
    assert torch.equal(masked[masked != 0], x[masked != 0])

    (gaussian,) = regularizers(denoising={"noise": "gaussian", "level": 0.4})
    noise = gaussian.corrupt(x) - x
    assert noise.mean().abs() < 0.005 and (noise.std() - 0.4).abs() < 0.005

    (salt_pepper,) = regularizers(denoising={"noise": "salt_and_pepper", "level": 0.2})
    salt_pepper.check(None, toy_data(torch.tensor([[-1.0, 3.0]])))
    hit = salt_pepper.corrupt(x)
    changed = hit != 0.5
    assert (changed.float().mean() - 0.2).abs() < 0.005
    assert set(hit[changed].unique().tolist()) == {-1.0, 3.0}
    assert ((hit == 3.0).float().sum() / changed.float().sum() - 0.5).abs() < 0.02

    (default,) = regularizers(denoising={"noise": "masking"})
    assert default.level == 0.25  # the literature default for masking


def test_corruption_is_never_applied_at_evaluation():
    torch.manual_seed(0)
    model = build_model(model_cfg("mlp", latent_dim=2), (6,))
    likelihood = build_likelihood(OmegaConf.create({"name": "gaussian", "sigma": 1.0}))
    split = Split(torch.randn(50, 6))
    plain = evaluate_split(model, likelihood, [], split, 16)
    noisy = evaluate_split(model, likelihood, regularizers(denoising={"level": 5.0}), split, 16)
    assert plain == noisy
    terms, _ = loss_terms(model, likelihood, regularizers(denoising={"level": 5.0}), split.x)
    assert terms["recon"].item() != pytest.approx(plain["recon"], rel=1e-3)  # training does corrupt


@pytest.mark.parametrize(
    "chosen, message",
    [
        ({"denoising": {"noise": "masking", "level": 1.5}}, "must lie in \\[0, 1\\]"),
        ({"denoising": {"noise": "salt_and_pepper", "level": -0.1}}, "must lie in \\[0, 1\\]"),
        ({"denoising": {"noise": "gaussian", "level": -0.1}}, "must be >= 0"),
        ({"denoising": {"noise": "speckle"}}, "is unknown"),
        ({"contractive": {"weight": -1.0}}, "weight must be a number >= 0"),
        ({"l2": {"weight": -1e-3}}, "weight must be a number >= 0"),
        ({"sparse_kl": {"rho": 1.5}}, "rho must lie in \\(0, 1\\)"),
    ],
)
def test_bad_settings_are_user_errors(chosen, message):
    with pytest.raises(UserError, match=message):
        regularizers(**chosen)


def test_sparse_kl_needs_a_sigmoid_layer_and_a_real_layer():
    data = toy_data(torch.rand(4, 5))
    linear_code = build_model(model_cfg("mlp", hidden_dims=[7], latent_dim=3), (5,))
    (kl,) = regularizers(sparse_kl={})
    with pytest.raises(UserError, match="model.code_activation=sigmoid"):
        kl.check(linear_code, data)
    (kl_hidden,) = regularizers(sparse_kl={"layer": 1})
    with pytest.raises(UserError, match="model.activation=sigmoid"):
        kl_hidden.check(linear_code, data)
    (l1,) = regularizers(sparse_l1={"layer": 3})
    with pytest.raises(UserError, match="hidden layer 1..1"):
        l1.check(linear_code, data)


def test_tied_weights_on_conv_is_a_user_error():
    with pytest.raises(UserError, match="tied_weights"):
        build_model(model_cfg("conv", tied_weights=True), (1, 28, 28))


def test_unknown_regularizer_names_the_choices(tmp_path):
    result = run_cli("train", "regularizer=[denoising,dropout]", cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "unknown regularizer 'dropout'" in result.stderr
    assert "contractive, denoising, l2, sparse_kl, sparse_l1" in result.stderr
    assert not (tmp_path / "outputs").exists()


def test_composed_regularizers_log_each_term(tmp_path):
    run_dir = tmp_path / "run"
    run_cli(
        "train", "regularizer=[denoising,sparse_kl,contractive,l2]", "model.code_activation=sigmoid",
        "regularizer.denoising.noise=masking", *TINY, "tsne.enabled=false", f"hydra.run.dir={run_dir}", cwd=tmp_path,
    )
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from aecli.engine.curves import curve_tag
    from aecli.runs.store import events_folder

    events = EventAccumulator(str(events_folder(run_dir)))
    events.Reload()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for term in ("recon", "sparse_kl", "contractive", "l2", "total"):
        assert {curve_tag(term, "train"), curve_tag(term, "val")} <= set(events.Tags()["scalars"])
        assert f"test_{term}" in metrics or term == "total"
    assert metrics["train_loss"] == pytest.approx(
        sum(metrics[f"train_{t}"] for t in ("recon", "sparse_kl", "contractive", "l2")), rel=1e-5
    )


def test_kl_sparse_autoencoder_mean_activation_near_rho(tmp_path):
    """Measured (seed 0, damped oscillations, 20 sigmoid code units, 10 epochs, weight 1): mean test
    activation 0.0486 with every unit in [0.0483, 0.0488], against 0.56 without the penalty.
    Here 4 epochs on 3000 samples; the bound, |mean - rho| < 0.01, is about 5x what that gives."""
    run_dir = tmp_path / "run"
    run_cli(
        "train", "dataset=damped_oscillation", "dataset.num_samples=3000", "regularizer=sparse_kl",
        "model.code_activation=sigmoid", "model.latent_dim=20", "trainer.epochs=4", "tsne.enabled=false",
        f"hydra.run.dir={run_dir}", cwd=tmp_path,
    )
    model, data = _load_run(run_dir)
    codes = model.encode(data.test.x).detach()
    assert abs(codes.mean().item() - 0.05) < 0.01


def test_linear_autoencoder_finds_the_pca_subspace(tmp_path):
    """Measured (standardized damped oscillations, latent_dim 2, 20 epochs): largest principal angle
    between the decoder's column space and the top-2 PCA subspace 1.89, 1.34 and 1.99 degrees for
    seeds 0, 1, 2. The bound is 5 degrees."""
    run_dir = tmp_path / "run"
    run_cli(
        "train", "dataset=damped_oscillation", "dataset.normalize=standardize", "model=linear", "model.latent_dim=2",
        "trainer.epochs=20", "tsne.enabled=false", f"hydra.run.dir={run_dir}", cwd=tmp_path,
    )
    model, data = _load_run(run_dir)
    decoder_columns = model.decoder[0].weight.detach().numpy()  # (D, q)
    pca = PCA(n_components=2).fit(data.train.x.numpy())
    angle = math.degrees(subspace_angles(decoder_columns, pca.components_.T).max())
    assert angle < 5.0


def _load_run(run_dir):
    from aecli.engine.experiment import build_experiment

    config = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    experiment = build_experiment(config, torch.device("cpu"))
    experiment.model.load_state_dict(torch.load(run_dir / "checkpoints" / "best.pt", weights_only=True)["model"])
    experiment.model.eval()
    return experiment.model, experiment.data


def test_runs_saved_before_projections_existed_keep_the_exact_norm():
    from aecli.runs.config import migrate

    old = migrate(OmegaConf.create({"regularizer": {"contractive": {"weight": 0.1}, "l2": {"weight": 1.0}}}))
    assert old.regularizer.contractive.projections is None and "projections" not in old.regularizer.l2
