"""+scale=quick: any experiment as a smoke run (dataset.train_size, few epochs), composed after it;
dataset.train_size is the one knob that cuts the training split, for every dataset."""

from __future__ import annotations

import torch
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from aecli.runs.config import migrate
from aecli.engine.experiment import build_experiment
from conftest import run_cli


def _compose(*overrides: str):
    with initialize_config_module("aecli.configs", version_base="1.3"):
        return compose("train", overrides=list(overrides))


def test_quick_scale_shrinks_a_full_strength_experiment():
    full = _compose("+experiment=hinton2006")
    quick = _compose("+experiment=hinton2006", "+scale=quick")
    assert "train_limit" not in full.data and full.dataset.train_size is None and full.trainer.epochs == 50
    assert quick.dataset.train_size == 2000 and quick.trainer.epochs == 2
    assert quick.model == full.model  # the same network, less data and fewer epochs


def test_train_size_keeps_the_first_training_samples_of_any_dataset():
    cfg = _compose("dataset.num_samples=300")
    whole = build_experiment(cfg, torch.device("cpu")).data
    cfg.dataset.train_size = 50
    limited = build_experiment(cfg, torch.device("cpu")).data
    assert len(limited.train) == 50 and torch.equal(limited.train.x, whole.train.x[:50])
    assert torch.equal(limited.train.factors, whole.train.factors[:50])
    assert torch.equal(limited.val.x, whole.val.x) and torch.equal(limited.test.x, whole.test.x)


def test_old_runs_train_on_every_sample_and_a_bad_limit_is_one_line():
    assert migrate(OmegaConf.create({"data": {"root": None}, "dataset": {"name": "lines"}})).dataset.train_size is None
    result = run_cli("train", "dataset.train_size=0", check=False)
    assert result.returncode == 2 and "dataset.train_size" in result.stderr


def test_the_removed_second_knob_of_an_old_run_becomes_the_one_knob():
    """data.train_limit cut the training split after the dataset's own train_size: the smaller wins."""
    old = OmegaConf.create({"data": {"root": None, "train_limit": 50}, "dataset": {"name": "mnist", "train_size": None}})
    migrated = migrate(old)
    assert "train_limit" not in migrated.data and migrated.dataset.train_size == 50
    both = migrate(OmegaConf.create({"data": {"train_limit": 500}, "dataset": {"name": "mnist", "train_size": 300}}))
    assert both.dataset.train_size == 300


def test_null_gets_back_every_training_sample_after_an_experiment_set_a_size(tmp_path):
    """An experiment (or a run) that set dataset.train_size: null on the command line means all, in
    train as in the commands on a finished run (+key=null there is an override, not "keep")."""
    from aecli.runs.open import command_overrides

    cfg = _compose("+scale=quick", "dataset.train_size=null")
    assert cfg.dataset.train_size is None
    settings = OmegaConf.create({"run": "r", "checkpoint": "best", "trainer": {"device": None}, "dataset": {"train_size": None}})
    assert command_overrides(settings, {"run", "checkpoint"}) == {"dataset": {"train_size": None}}

