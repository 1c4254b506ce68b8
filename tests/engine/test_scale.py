"""+scale=quick: any experiment as a smoke run (data.train_limit, few epochs), composed after it."""

from __future__ import annotations

import torch
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from aecli.config.migrate import migrate
from aecli.engine.build import build_experiment
from conftest import run_cli


def _compose(*overrides: str):
    with initialize_config_module("aecli.configs", version_base="1.3"):
        return compose("train", overrides=list(overrides))


def test_quick_scale_shrinks_a_full_strength_experiment():
    full = _compose("+experiment=hinton2006")
    quick = _compose("+experiment=hinton2006", "+scale=quick")
    assert full.data.train_limit is None and full.dataset.train_size is None and full.trainer.epochs == 50
    assert quick.data.train_limit == 2000 and quick.trainer.epochs == 2
    assert quick.model == full.model  # the same network, less data and fewer epochs


def test_train_limit_keeps_the_first_training_samples_of_any_dataset():
    cfg = _compose("dataset.num_samples=300")
    whole = build_experiment(cfg, torch.device("cpu")).data
    cfg.data.train_limit = 50
    limited = build_experiment(cfg, torch.device("cpu")).data
    assert len(limited.train) == 50 and torch.equal(limited.train.x, whole.train.x[:50])
    assert torch.equal(limited.train.factors, whole.train.factors[:50])
    assert torch.equal(limited.val.x, whole.val.x) and torch.equal(limited.test.x, whole.test.x)


def test_old_runs_train_on_every_sample_and_a_bad_limit_is_one_line():
    assert migrate(OmegaConf.create({"data": {"root": None}})).data.train_limit is None
    result = run_cli("train", "data.train_limit=0", check=False)
    assert result.returncode == 2 and "data.train_limit" in result.stderr

