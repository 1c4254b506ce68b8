"""End to end: `aecli train regularizer=vae` on each kind of data, its pictures and scalars, and bad input."""

from __future__ import annotations

import json

import pytest
import torch

from aecli.engine.curves import curve_tag
from conftest import TINY, run_cli
from conftest import assert_complete_run, events

# Tiny models train far faster on one thread when the machine's cores are shared.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def image_sizes(tb, tag: str) -> tuple[int, int]:
    image = tb.Images(tag)[-1]
    return image.height, image.width


def test_vae_on_lines_logs_kl_terms_prior_samples_traversals_and_the_manifold(tmp_path):
    run_dir = tmp_path / "run"
    run_cli("train", "regularizer=vae", "model.latent_dim=2", *TINY, f"hydra.run.dir={run_dir}", cwd=tmp_path, env=ONE_THREAD)
    metrics = assert_complete_run(run_dir, epochs=2)
    tb = events(run_dir)
    for tag in ("samples/prior", "latent/traversal", "latent/manifold"):
        assert tag in tb.Tags()["images"]
    assert not any(tag.endswith("_std") for tag in tb.Tags()["images"])  # fixed-sigma decoder: no spread to draw
    for split in ("train", "val"):  # test figures: metrics.json and the Text view's summary table
        for term in ("kl", "kl_unweighted", "kl_dim_0", "kl_dim_1"):
            assert curve_tag(term, split) in tb.Tags()["scalars"]
    for picture in ("reconstructions.png", "samples.png", "traversal.png", "manifold.png", "latent.png"):
        assert (run_dir / picture).stat().st_size > 5_000, picture
    assert metrics["test_kl_dim_0"] + metrics["test_kl_dim_1"] == pytest.approx(metrics["test_kl_unweighted"], rel=1e-5)
    assert metrics["test_loss"] == pytest.approx(metrics["test_recon"] + metrics["test_kl"], rel=1e-5)
    state = torch.load(run_dir / "checkpoints" / "best.pt", weights_only=True)["model"]
    assert state["encoder.5.weight"].shape == (4, 100)  # mean and log-variance per latent


def test_vae_with_learned_variance_and_warm_up_on_damped_oscillations(tmp_path):
    run_dir = tmp_path / "run"
    run_cli(
        "train", "dataset=damped_oscillation", "regularizer=vae", "likelihood=gaussian_learned", "model.latent_dim=3",
        "regularizer.vae.beta=2", "regularizer.vae.warmup_epochs=2", *TINY, "tsne.enabled=false",
        f"hydra.run.dir={run_dir}", cwd=tmp_path, env=ONE_THREAD,
    )
    tb = events(run_dir)
    images = tb.Tags()["images"]
    assert "samples/prior" in images and "latent/traversal" in images
    assert "latent/manifold" not in images  # only for a 2-D code
    weighted = [event.value for event in tb.Scalars(curve_tag("kl", "train"))]
    unweighted = [event.value for event in tb.Scalars(curve_tag("kl_unweighted", "train"))]
    assert [w / u for w, u in zip(weighted, unweighted)] == pytest.approx([1.0, 2.0], rel=1e-4)  # beta * e / 2
    val = tb.Scalars(curve_tag("kl", "val"))[0].value / tb.Scalars(curve_tag("kl_unweighted", "val"))[0].value
    assert val == pytest.approx(2.0, rel=1e-4)  # validation always uses the full beta


def test_learned_variance_without_vae_trains_a_plain_autoencoder(tmp_path):
    run_dir = tmp_path / "run"
    run_cli("train", "likelihood=gaussian_learned", *TINY, "tsne.enabled=false", f"hydra.run.dir={run_dir}",
              cwd=tmp_path, env=ONE_THREAD)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert "test_kl" not in metrics and torch.isfinite(torch.tensor(metrics["test_recon"]))
    assert "samples/prior" not in events(run_dir).Tags()["images"]
    state = torch.load(run_dir / "checkpoints" / "best.pt", weights_only=True)["model"]
    assert state["decoder.4.weight"].shape == (100, 100) and state["decoder.4.bias"].shape == (100,)  # 2 x 50 outputs


def test_bernoulli_vae_on_mnist_draws_image_rows(mnist_root, tmp_path):
    run_dir = tmp_path / "run"
    run_cli(
        "train", "dataset=mnist", "regularizer=vae", f"data.root={mnist_root}", "dataset.train_size=500",
        "dataset.val_size=100", "dataset.test_size=100", "model.hidden_dims=[64]", "model.latent_dim=2",
        "trainer.epochs=1", "log.traversal_steps=5", "tsne.enabled=false", f"hydra.run.dir={run_dir}",
        cwd=tmp_path, env=ONE_THREAD,
    )
    tb = events(run_dir)
    cell = 28 + 2  # image side plus the grid's padding
    assert image_sizes(tb, "latent/traversal") == (2 * cell + 2, 5 * cell + 2)  # a row per latent, a column per value
    assert image_sizes(tb, "latent/manifold") == (5 * cell + 2, 5 * cell + 2)
    assert image_sizes(tb, "samples/prior") == (2 * cell + 2, 8 * cell + 2)  # 16 samples, 8 per row


def test_variance_mnist_vae_with_learned_variance_draws_the_spread(mnist_root, tmp_path):
    run_dir = tmp_path / "run"
    run_cli(
        "train", "dataset=variance_mnist", "regularizer=vae", "likelihood=gaussian_learned", "model=conv",
        f"data.root={mnist_root}", "dataset.train_size=300", "dataset.val_size=100", "dataset.test_size=100",
        "model.latent_dim=3", "trainer.epochs=1", "tsne.enabled=false", f"hydra.run.dir={run_dir}",
        cwd=tmp_path, env=ONE_THREAD,
    )
    images = events(run_dir).Tags()["images"]
    for tag in ("samples/prior", "samples/prior_std", "latent/traversal", "latent/traversal_std"):
        assert tag in images


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["regularizer.vae.beta=0"], "regularizer.vae.beta must be a number > 0"),
        (["log.traversal_range=0"], "log.traversal_range must be a number > 0"),
        (["model.tied_weights=true"], "set model.tied_weights=false with regularizer=vae"),
    ],
)
def test_bad_vae_input_is_one_line_before_training(overrides, message, tmp_path):
    result = run_cli(
        "train", "regularizer=vae", *overrides, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path, check=False
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "checkpoints").exists()
