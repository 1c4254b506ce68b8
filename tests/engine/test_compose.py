"""Options compose with the others' defaults: every dataset x model x single regularizer either
builds and takes one training step, or stops with one line naming the fix."""

from __future__ import annotations

import math

import pytest
import torch
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from aecli.config.keys import option_defaults
from aecli.runs.config import check_train_config as validate_train_config
from aecli.engine.experiment import build_experiment
from aecli.engine.steps import loss_terms
from aecli.errors import UserError
from conftest import write_fake_mnist

DATASETS = ("lines", "damped_oscillation", "mnist", "variance_mnist")
MODELS = ("mlp", "conv", "linear", "sparse_coding")
REGULARIZERS = ("[]", "l2", "denoising", "sparse_kl", "sparse_l1", "contractive", "vae")
SMALL = {  # a few samples of every dataset, small networks
    "lines": ["dataset.num_samples=40"], "damped_oscillation": ["dataset.num_samples=40"],
    "mnist": ["dataset.val_size=10", "dataset.test_size=10"], "variance_mnist": ["dataset.val_size=10", "dataset.test_size=10"],
}
# The combinations that cannot work, and a word of the one line that says so.
REFUSED = {
    ("lines", "conv"): "1-D signals", ("damped_oscillation", "conv"): "1-D signals",
    ("linear", "sparse_kl"): "code_activation", ("sparse_coding", "*"): "model=sparse_coding",
}


def expected_refusal(dataset: str, model: str, regularizer: str) -> str | None:
    if (dataset, model) in REFUSED:
        return REFUSED[dataset, model]
    if regularizer == "sparse_kl" and model in ("linear", "sparse_coding"):  # no code activation to set
        return REFUSED["linear", "sparse_kl"]
    if model == "sparse_coding" and regularizer != "[]":
        return REFUSED["sparse_coding", "*"]
    return None


@pytest.fixture
def composer(tmp_path):
    root = tmp_path / "data"
    write_fake_mnist(root / "MNIST" / "raw", num_train=40, num_test=10)
    with initialize_config_module("aecli.configs", version_base="1.3"):
        yield lambda *overrides: compose("train", overrides=[f"data.root={root}", "model.latent_dim=2", *overrides])


def test_every_dataset_model_and_regularizer_composes_or_says_why(composer):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: one thread is fastest, and the machine is shared
    try:
        _check_grid(composer)
    finally:
        torch.set_num_threads(threads)


def _check_grid(composer) -> None:
    for dataset in DATASETS:
        for model in MODELS:
            small_model = ["model.channels=[4]"] if model == "conv" else ["model.hidden_dims=[8]"] if model == "mlp" else []
            # Composed once per dataset and model; each regularizer's node is what Hydra adds for regularizer=NAME.
            base = composer(f"dataset={dataset}", f"model={model}", *SMALL[dataset], *small_model)
            for regularizer in REGULARIZERS:
                cfg = base.copy()
                if regularizer != "[]":
                    cfg.regularizer = {regularizer: option_defaults("regularizer", regularizer)}
                refusal = expected_refusal(dataset, model, regularizer)
                combination = f"dataset={dataset} model={model} regularizer={regularizer}"
                try:
                    validate_train_config(cfg)
                    torch.manual_seed(0)
                    experiment = build_experiment(cfg, torch.device("cpu"))
                except UserError as error:
                    assert refusal is not None, f"{combination} was refused: {error}"
                    assert refusal in str(error) and "\n" not in str(error), f"{combination}: {error}"
                    assert any(fix in str(error) for fix in ("use ", "set ", "drop ")), f"{combination} names no fix: {error}"
                    continue
                assert refusal is None, f"{combination} should have been refused ({refusal})"
                terms, _ = loss_terms(experiment.model, experiment.likelihood, experiment.regularizers, experiment.data.train.x[:4])
                terms["total"].backward()
                assert math.isfinite(terms["total"].item()), combination


@pytest.mark.parametrize(
    ("overrides", "likelihood"),
    [
        (["dataset=mnist"], "bernoulli"),
        (["dataset=mnist", "model=sparse_coding"], "gaussian"),
        (["dataset=variance_mnist"], "gaussian"),  # values outside [0, 1]
        (["dataset=lines"], "gaussian"),
        (["dataset=mnist", "likelihood=gaussian"], "gaussian"),  # an explicit choice wins
        (["dataset=mnist", "likelihood=gaussian_learned"], "gaussian_learned"),
    ],
)
def test_the_likelihood_default_follows_the_data_and_the_model(composer, overrides, likelihood):
    cfg = composer(*overrides, *SMALL[overrides[0].split("=")[1]])
    experiment = build_experiment(cfg, torch.device("cpu"))
    assert experiment.likelihood.name == likelihood
    assert cfg.likelihood.name == likelihood  # written into the config the run saves
    assert ("likelihood=" in " ".join(experiment.brought)) == ("likelihood=" not in " ".join(overrides))


def test_auto_gives_the_same_model_as_the_explicit_choice(composer):
    """A refused candidate (bernoulli for sparse coding) must not shift the random initialization."""
    weights = []
    for extra in ([], ["likelihood=gaussian"]):
        torch.manual_seed(0)
        experiment = build_experiment(composer("dataset=mnist", "model=sparse_coding", *SMALL["mnist"], *extra), torch.device("cpu"))
        weights.append(experiment.model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_sparse_kl_brings_its_sigmoid_code_and_an_explicit_choice_wins(composer):
    for regularizer in ("sparse_kl", "[denoising,sparse_kl]"):
        cfg = composer(f"regularizer={regularizer}", *SMALL["lines"])
        experiment = build_experiment(cfg, torch.device("cpu"))
        assert cfg.model.code_activation == "sigmoid"
        assert "model.code_activation=sigmoid (for regularizer sparse_kl)" in experiment.brought
    cfg = composer("regularizer=sparse_kl", "model.code_activation=tanh", *SMALL["lines"])
    with pytest.raises(UserError, match="not a sigmoid"):
        build_experiment(cfg, torch.device("cpu"))
    cfg = composer("regularizer=sparse_kl", "regularizer.sparse_kl.layer=1", "model.activation=sigmoid", *SMALL["lines"])
    build_experiment(cfg, torch.device("cpu"))
    assert cfg.model.code_activation is None  # a hidden layer's penalty needs no sigmoid code


def test_the_start_line_says_what_the_options_chose(tmp_path):
    from conftest import run_cli

    result = run_cli("train", "regularizer=sparse_kl", "dataset.num_samples=60", "trainer.epochs=1", "tsne.enabled=false",
                     f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert "model.code_activation=sigmoid (for regularizer sparse_kl)" in result.stderr + result.stdout
    saved = OmegaConf.load(tmp_path / "run" / ".hydra" / "config.yaml")
    assert saved.model.code_activation == "sigmoid" and saved.likelihood.name == "gaussian"
