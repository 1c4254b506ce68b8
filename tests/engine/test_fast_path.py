"""The fast-path options: bf16 autocast and torch.compile's checks for the training step,
evaluation in inference mode (plain no_grad where a penalty differentiates the encoder), and
the t-SNE backends."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from aecli.errors import UserError
from aecli.data import Split
from aecli.likelihoods import build_likelihood
from aecli.models import build_model
from aecli.config.keys import TRAIN
from aecli.config.schema import check_values
from aecli.engine.optim import make_step_loss
from aecli.engine.steps import evaluate_split
from conftest import REPO
from conftest import model_cfg, regularizers


def trainer(**overrides):
    base = OmegaConf.load(REPO / "configs" / "train.yaml").trainer
    return OmegaConf.merge(base, overrides)


def tiny_model():
    torch.manual_seed(0)
    return build_model(model_cfg("mlp", hidden_dims=[16], latent_dim=3), (12,))


def test_bf16_step_on_the_cpu_gives_a_finite_loss_close_to_fp32_and_gradients():
    model, likelihood, x = tiny_model(), build_likelihood(OmegaConf.create({"name": "gaussian", "sigma": 1.0})), torch.rand(32, 12)
    fp32 = make_step_loss(model, likelihood, [], trainer())(x)["total"]
    bf16 = make_step_loss(model, likelihood, [], trainer(precision="bf16"))(x)["total"]
    assert math.isfinite(bf16.item())
    assert bf16.item() == pytest.approx(fp32.item(), rel=0.02)
    bf16.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_a_cpu_without_bf16_instructions_warns_once_that_it_is_slower(native, monkeypatch, caplog):
    from aecli.engine import optim

    monkeypatch.setattr(optim, "cpu_has_bf16", lambda: native)
    model, likelihood = tiny_model(), build_likelihood(OmegaConf.create({"name": "gaussian", "sigma": 1.0}))
    with caplog.at_level("WARNING", logger="aecli"):
        make_step_loss(model, likelihood, [], trainer(precision="bf16"))
        make_step_loss(model, likelihood, [], trainer())  # fp32: never a word
    warnings = [r.message for r in caplog.records if "bf16" in r.message]
    assert warnings == ([] if native else [warnings[0]]) and (native or "without bf16 instructions" in warnings[0])


@pytest.mark.parametrize("key, value", [("precision", "fp16"), ("compile", "yes")])
def test_unknown_fast_path_settings_are_user_errors(key, value):
    with pytest.raises(UserError, match=f"trainer.{key}"):
        check_values(OmegaConf.create({"trainer": trainer(**{key: value})}), TRAIN)


def test_compile_without_a_cxx_compiler_on_the_cpu_says_so_in_one_line(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    likelihood = build_likelihood(OmegaConf.create({"name": "gaussian", "sigma": 1.0}))
    with pytest.raises(UserError, match="C\\+\\+ compiler.*trainer.compile=false"):
        make_step_loss(tiny_model(), likelihood, [], trainer(compile=True))


def test_evaluation_runs_in_inference_mode_except_for_the_contractive_penalty(monkeypatch):
    model, likelihood = tiny_model(), build_likelihood(OmegaConf.create({"name": "gaussian", "sigma": 1.0}))
    split = Split(torch.rand(40, 12))
    seen = []
    model.encoder.register_forward_hook(lambda module, inputs, output: seen.append(torch.is_inference_mode_enabled()))
    plain = evaluate_split(model, likelihood, [], split, 16)
    assert seen and all(seen)
    seen.clear()
    contractive = evaluate_split(model, likelihood, regularizers(contractive={}), split, 16)
    assert seen and not any(seen)
    assert contractive["contractive"] > 0 and contractive["recon"] == pytest.approx(plain["recon"])


def test_an_unknown_tsne_backend_is_a_user_error():
    with pytest.raises(UserError, match="tsne.backend=umap is unknown"):
        check_values(OmegaConf.create({"tsne": {"backend": "umap"}}), TRAIN)


def test_opentsne_backend_embeds_the_codes_in_two_dimensions():
    pytest.importorskip("openTSNE")
    from aecli.report.latents import embed_codes

    torch.manual_seed(0)
    embedding = embed_codes(torch.randn(120, 5), "tsne", 100, 30.0, 0, backend="opentsne")
    assert embedding.points.shape == (100, 2) and np.isfinite(embedding.points).all()


def test_auto_tsne_backend_takes_opentsne_only_for_many_points_and_only_when_installed(monkeypatch):
    import importlib.util

    from aecli.report import latents

    # An explicit backend is kept whatever the number of points.
    assert latents.tsne_backend("sklearn", 10**6) == "sklearn"
    assert latents.tsne_backend("opentsne", 10) == "opentsne"
    assert latents.tsne_backend("auto", latents.OPENTSNE_FROM - 1) == "sklearn"
    installed = importlib.util.find_spec("openTSNE") is not None
    assert latents.tsne_backend("auto", latents.OPENTSNE_FROM) == ("opentsne" if installed else "sklearn")
    monkeypatch.setattr(latents.importlib.util, "find_spec", lambda name: None)  # openTSNE not installed
    assert latents.tsne_backend("auto", 10**6) == "sklearn"


def test_runs_written_before_the_auto_tsne_backend_keep_scikit_learn():
    from aecli.runs.config import migrate

    old = migrate(OmegaConf.create({"tsne": {"enabled": True}}))
    assert old.tsne.backend == "sklearn"
    assert OmegaConf.load(REPO / "configs" / "train.yaml").tsne.backend == "auto"


@pytest.mark.parametrize("max_iter", [250, 100, 500.0, True])
def test_a_tsne_max_iter_within_early_exaggeration_is_a_user_error(max_iter):
    with pytest.raises(UserError, match=r"tsne.max_iter must be an integer > 250 \(its first 250 iterations are early exaggeration\)"):
        check_values(OmegaConf.create({"tsne": {"max_iter": max_iter}}), TRAIN)


def test_tsne_max_iter_sets_how_long_the_embedding_is_optimized():
    from aecli.report.latents import embed_codes

    torch.manual_seed(0)
    codes = torch.randn(150, 5)
    short, again, full = (embed_codes(codes, "tsne", 150, 30.0, 0, max_iter=n).points for n in (300, 300, 1000))
    np.testing.assert_array_equal(short, again)  # same seed, same iterations: the same picture
    assert not np.allclose(short, full)


def test_visualize_latents_chooses_tsne_iterations_by_size_unless_told():
    from aecli.report.latents import OPENTSNE_FROM, tsne_iterations

    assert tsne_iterations(None, OPENTSNE_FROM - 1) == 1000  # the careful picture below openTSNE's sizes
    assert tsne_iterations(None, OPENTSNE_FROM) == tsne_iterations(None, 10000) == 500
    assert tsne_iterations(700, 10000) == 700 and tsne_iterations(300, 10) == 300
