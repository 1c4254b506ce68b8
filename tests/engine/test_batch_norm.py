"""Batch norm's statistics recomputed before validation ("precise BN"): the exact average of
the batches' statistics, from a seeded draw that leaves training's generators untouched."""

from __future__ import annotations

import torch
from torch import nn

from aecli.data.base import Dataset, Split
from aecli.engine.batch_norm import recompute_batch_norm
from aecli.models.mlp import MLPAutoencoder
from conftest import regularizers


class _Noisy(Dataset):
    def training_batch(self, x):
        return x * torch.randn_like(x)  # variance-MNIST's draw: the statistics must see it


def _data(n: int = 64, dim: int = 6, noisy: bool = False) -> Dataset:
    torch.manual_seed(1)
    split = Split(torch.rand(n, dim) * torch.arange(1, dim + 1))
    return (_Noisy if noisy else Dataset)("t", split, split, split, "signal")


def _model(dim: int = 6) -> MLPAutoencoder:
    torch.manual_seed(0)
    return MLPAutoencoder((dim,), [5], 2, batch_norm=True)


def test_the_statistics_are_the_mean_of_the_batches_statistics():
    data, model = _data(), _model()
    first_norm = model.encoder[2]
    assert isinstance(first_norm, nn.BatchNorm1d)
    with torch.no_grad():  # stale running averages, as a moving model leaves them
        first_norm.running_mean.fill_(5.0)
        first_norm.running_var.fill_(9.0)
    assert recompute_batch_norm(model, data, [], 16, 10_000, seed=3) == 64

    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(3)
        order = torch.randperm(64)
        hidden = [model.encoder[1](data.train.x[index]) for index in order.split(16)]
    expected_mean = torch.stack([h.mean(0) for h in hidden]).mean(0)
    expected_var = torch.stack([h.var(0) for h in hidden]).mean(0)  # each batch's unbiased variance, as training keeps
    torch.testing.assert_close(first_norm.running_mean, expected_mean)
    torch.testing.assert_close(first_norm.running_var, expected_var)
    assert first_norm.momentum == 0.1 and model.training  # put back as found


def test_it_draws_as_training_does_and_leaves_the_training_sequence_alone():
    data, model = _data(noisy=True), _model()
    before = torch.get_rng_state()
    recompute_batch_norm(model, data, regularizers(denoising={"noise": "gaussian", "level": 0.5}), 16, 32, seed=3)
    assert torch.equal(torch.get_rng_state(), before)
    noisy = model.encoder[2].running_var.clone()
    recompute_batch_norm(model, data, regularizers(denoising={"noise": "gaussian", "level": 0.5}), 16, 32, seed=3)
    torch.testing.assert_close(model.encoder[2].running_var, noisy)  # the same draw every time
    recompute_batch_norm(model, _data(), [], 16, 32, seed=3)
    assert not torch.allclose(model.encoder[2].running_var, noisy)  # the noise and corruption were in it


def test_models_without_batch_norm_or_with_it_off_are_left_alone():
    data = _data()
    plain = MLPAutoencoder((6,), [5], 2)
    assert recompute_batch_norm(plain, data, [], 16, 10_000, seed=0) == 0
    model = _model()
    model.encoder[2].running_mean.fill_(5.0)
    for samples in (None, 0):
        assert recompute_batch_norm(model, data, [], 16, samples, seed=0) == 0
    assert torch.equal(model.encoder[2].running_mean, torch.full((5,), 5.0))


def test_a_last_batch_of_one_is_skipped():
    data, model = _data(n=17), _model()
    assert recompute_batch_norm(model, data, [], 16, 10_000, seed=0) == 17  # 16 + 1: no error on the one


def test_a_run_validates_and_saves_with_the_recomputed_statistics(tmp_path):
    from aecli.api import load_run
    from conftest import train_in_process

    run = tmp_path / "run"
    train_in_process(["dataset.num_samples=200", "model.batch_norm=true", "trainer.epochs=1", "trainer.batch_size=16",
                      "trainer.bn_stats_samples=64", "tsne.enabled=false", "trainer.num_threads=1"], run)
    loaded = load_run(run, "last")
    saved = [m.running_var.clone() for m in loaded.model.modules() if isinstance(m, nn.BatchNorm1d)]
    experiment = loaded.experiment
    assert recompute_batch_norm(loaded.model, experiment.data, experiment.regularizers, 16, 64, seed=0) == 64
    for layer, before in zip((m for m in loaded.model.modules() if isinstance(m, nn.BatchNorm1d)), saved):
        torch.testing.assert_close(layer.running_var, before)  # not the running averages of training


def test_a_last_training_batch_of_one_is_refused_with_the_fix(tmp_path):
    from conftest import run_cli

    result = run_cli("train", "dataset.num_samples=200", "model.batch_norm=true", "trainer.batch_size=53", "trainer.epochs=1",
                     "tsne.enabled=false", f"hydra.run.dir={tmp_path / 'run'}", check=False, cwd=tmp_path)
    assert result.returncode == 2
    assert "last batch of 160 training samples in batches of 53" in result.stderr and "trainer.batch_size=54" in result.stderr
