"""End to end: what the codes are good for. Anomaly AUROC of digits left out of training (with
its ROC figure), `aecli finetune` against a network from scratch, a linear VAE against PPCA's
likelihood, and the filters and interpolations `aecli visualize-latents` draws."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from aecli.api import load_run
from conftest import REPO, TINY, events, run_cli, train_in_process


def mnist_run(root: Path, *extra: str, model: tuple[str, ...] = ("model.hidden_dims=[32]",)) -> tuple[str, ...]:
    return (
        "dataset=mnist", f"data.root={root}", "dataset.train_size=600", "dataset.val_size=100", "dataset.test_size=300",
        *model, "model.latent_dim=4", "trainer.epochs=1", "tsne.enabled=false", *extra,
    )


@pytest.mark.parametrize("extra, score", [((), "reconstruction loss"), (("regularizer=vae",), "negative ELBO")])
def test_evaluate_scores_the_left_out_digit_as_anomaly_with_a_roc_figure(extra, score, mnist_root, trained_run, tmp_path):
    run_dir = trained_run(*mnist_run(mnist_root, "dataset.exclude_classes=[2]", *extra), copy_to=tmp_path / "run")
    run = load_run(run_dir, "best")
    assert 2 not in run.experiment.data.train.labels and 2 not in run.experiment.data.val.labels  # never trained on
    out = run_cli("evaluate", f"run={run_dir}", "probe.label_budgets=[]", "nll_iw_samples=4", cwd=tmp_path).stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())

    test = run.experiment.data.test
    is_anomaly = (test.labels == 2).numpy()
    assert 0 < metrics["anomaly_auroc"] < 1 and f"scored by the {score}" in out
    if not extra:  # the reconstruction loss recomputed by hand: Bernoulli cross-entropy, summed per image
        from sklearn.metrics import roc_auc_score

        with torch.no_grad():
            logits = run.experiment.model.decode(run.experiment.model.encode(test.x))
            losses = torch.nn.functional.binary_cross_entropy_with_logits(logits, test.x, reduction="none").flatten(1).sum(1)
        assert metrics["anomaly_auroc"] == pytest.approx(roc_auc_score(is_anomaly, losses.numpy()), abs=1e-6)
    assert f"{is_anomaly.sum()} of them and {(~is_anomaly).sum()} others in test" in out
    assert (run_dir / "roc.png").stat().st_size > 10_000
    assert "evaluate/roc" in events(run_dir).Tags()["images"]  # the figure itself is in metrics.json and the Text view


def test_finetune_compares_the_pretrained_encoder_with_scratch_and_writes_both(mnist_root, trained_run, tmp_path):
    run_dir = trained_run(*mnist_run(mnist_root), copy_to=tmp_path / "run")
    before = json.loads((run_dir / "metrics.json").read_text())
    out = run_cli("finetune", f"run={run_dir}", "labels=50", "epochs=3", "trainer.num_threads=1", cwd=tmp_path).stdout
    after = json.loads((run_dir / "metrics.json").read_text())
    assert set(after) - set(before) == {"finetune_acc_50", "scratch_acc_50"}
    assert all(0 <= after[key] <= 1 for key in ("finetune_acc_50", "scratch_acc_50"))
    assert re.search(r"pretrained encoder \+ head +\d\.\d{4} +[1-3] ", out) and "same network from scratch" in out
    assert "50 train labels, 50 validation labels, 3 epochs" in out
    scalars = events(run_dir).Tags()["scalars"]
    assert {f"finetune/50/{name}/{curve}" for name in ("pretrained", "scratch") for curve in ("train_loss", "val_acc")} <= set(scalars)

    # The same seed gives the same comparison: the label draw, the head and the scratch network repeat.
    again = run_cli("finetune", f"run={run_dir}", "labels=50", "epochs=3", cwd=tmp_path).stdout
    def table(text: str) -> list[str]:  # the rows without the seconds column
        return [line.rsplit(" ", 1)[0] for line in text.splitlines() if line.startswith("  ")]

    assert json.loads((run_dir / "metrics.json").read_text()) == after and table(again) == table(out) and len(table(out)) == 4


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["labels=5"], "aecli finetune labels=5: 5 labels cannot cover 10 classes; ask for at least 10"),
        (["labels=0"], "labels must be a positive number of training labels, e.g. labels=100"),
        (["labels=50000"], "50000 labels asked for but only 600 labelled training codes exist"),
    ],
)
def test_finetune_label_budgets_the_run_cannot_give_are_one_line(overrides, message, mnist_root, trained_run, tmp_path):
    run_dir = trained_run(*mnist_run(mnist_root), copy_to=tmp_path / "run")
    before = (run_dir / "metrics.json").read_text()
    result = run_cli("finetune", f"run={run_dir}", *overrides, check=False, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert (run_dir / "metrics.json").read_text() == before


def test_finetune_refuses_unlabelled_data_with_one_line(trained_run, tmp_path):
    run_dir = trained_run(*TINY, "tsne.enabled=false", copy_to=tmp_path / "run")
    result = run_cli("finetune", f"run={run_dir}", "labels=100", check=False, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"aecli finetune needs labelled data, but run {run_dir} was trained on lines, which has no labels" in result.stderr


def test_visualize_latents_draws_filters_and_interpolations_of_a_conv_run(mnist_root, trained_run, tmp_path):
    run_dir = trained_run(*mnist_run(mnist_root, model=("model=conv", "model.channels=[8,4]")), copy_to=tmp_path / "run")
    out = run_cli("visualize-latents", f"run={run_dir}", "method=pca", "interpolation.pairs=3", "interpolation.steps=5",
                  "interpolation.method=slerp", cwd=tmp_path).stdout
    import matplotlib.pyplot as plt

    strip = plt.imread(run_dir / "interpolations.png")
    assert strip.shape[0] > strip.shape[1] / 7 * 2  # 3 rows of 7 pictures (input, 5 decoded, input)
    assert plt.imread(run_dir / "filters.png").shape[0] >= 120  # one row of 8 kernels of 3 x 3, enlarged
    assert "3 slerp interpolations of 5 steps" in out
    assert {"filters/first_layer", "latent/interpolations"} <= set(events(run_dir).Tags()["images"])


@pytest.mark.slow  # the whole experiment: about 20 s on 2 busy cores
def test_a_linear_vae_with_a_learned_gaussian_decoder_reaches_ppca_likelihood(tmp_path):
    """The lecture's relation (configs/experiment/lines_ppca.yaml): PPCA is the linear VAE's optimum."""
    overrides = ["+experiment=lines_ppca", "trainer.progress=false", "trainer.device=cpu", "log.num_reconstructions=0"]
    train_in_process(overrides, tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert abs(metrics["nll_iw"] - metrics["ppca_nll"]) < 0.02 * abs(metrics["ppca_nll"])
    assert metrics["nll_iw"] > metrics["ppca_nll"] - 0.01 * abs(metrics["ppca_nll"])  # no better than the optimum's class


@pytest.mark.parametrize(
    "args, message",
    [
        (["finetune", "labels=100"], "aecli finetune: error: run is required: pass run=RUN_DIR, a directory written by aecli train"),
        (["finetune", "run=."], "aecli finetune: error: labels is required: pass labels=N, e.g. labels=100"),
        (["evaluate"], "aecli evaluate: error: run is required: pass run=RUN_DIR"),
    ],
)
def test_a_required_setting_left_out_is_one_line(args, message, tmp_path):
    result = run_cli(*args, check=False, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_finetune_is_refused_while_another_command_writes_the_run(trained_run, tmp_path):
    """One writer per run folder: finetune merges into metrics.json, so it takes the lock too."""
    import fcntl
    import os

    from aecli.runs.lock import LOCK_NAME

    run_dir = trained_run(*TINY, "tsne.enabled=false", copy_to=tmp_path / "run")
    other = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(other, json.dumps({"pid": 4242, "host": "node7", "command": "evaluate", "since": 0}).encode())
    try:
        result = run_cli("finetune", f"run={run_dir}", "labels=100", check=False, cwd=tmp_path)
    finally:
        os.close(other)
    assert result.returncode == 2 and "in use by aecli evaluate (pid 4242 on host node7" in result.stderr
