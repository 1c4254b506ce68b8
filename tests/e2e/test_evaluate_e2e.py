"""End to end: the real `aecli evaluate` on tiny runs of every dataset, and its bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from aecli.errors import UserError
from aecli.evaluation.scores import evaluate_experiment
from aecli.api import load_run
from conftest import REPO, TINY, run_cli
from conftest import events

LINES = (*TINY, "tsne.enabled=false")  # mlp, 2-D code
DAMPED_LINEAR = ("dataset=damped_oscillation", "model=linear", "model.latent_dim=3", *TINY, "tsne.enabled=false")
EVERY_RUN = {"recon_mse", "recon_sse", "pca_recon_sse", "jacobian_fro", "jacobian_fro_se", "jacobian_fro_rows", "code_sparsity"}
FACTORS = {"factor_corr", "mig"}
LABELS = {"probe_linear_acc", "probe_knn_acc"}
CONTINUOUS = {"ppca_nll"}  # a Gaussian likelihood: PPCA's likelihood is comparable


def mnist_run(root: Path) -> tuple[str, ...]:
    return (
        "dataset=mnist", f"data.root={root}", "dataset.train_size=500", "dataset.val_size=100", "dataset.test_size=100",
        "model.hidden_dims=[32]", "model.latent_dim=3", "trainer.epochs=1", "tsne.enabled=false",
    )


def evaluate(run_dir: Path, *overrides: str) -> tuple[dict, dict, str]:
    """Run `aecli evaluate`; returns metrics.json before and after, and the printed output."""
    before = json.loads((run_dir / "metrics.json").read_text())
    out = run_cli("evaluate", f"run={run_dir}", *overrides, cwd=run_dir.parent).stdout
    return before, json.loads((run_dir / "metrics.json").read_text()), out


def assert_merged(before: dict, after: dict, expected: set[str]) -> dict:
    """evaluate added exactly `expected` and kept every key train wrote."""
    assert set(after) - set(before) == expected
    assert {key: after[key] for key in before} == before
    return {key: after[key] for key in expected}


def test_evaluate_lines_writes_factor_metrics_table_and_tensorboard_and_repeats_exactly(trained_run, tmp_path):
    run_dir = trained_run(*LINES, copy_to=tmp_path / "run")
    before, after, out = evaluate(run_dir)
    new = assert_merged(before, after, EVERY_RUN | FACTORS | CONTINUOUS)

    assert new["recon_sse"] == pytest.approx(before["test_recon_sse"], rel=1e-5)  # best.pt, test split, as train
    assert new["recon_mse"] == pytest.approx(new["recon_sse"] / 50)
    assert new["pca_recon_sse"] < 1e-6  # lines span a 2-D affine plane: PCA with 2 components is exact
    corr = new["factor_corr"]
    assert len(corr) == 2 and all(len(row) == 2 and all(0 <= v <= 1 for v in row) for row in corr)
    assert 0 <= new["mig"] <= 1 and new["jacobian_fro"] > 0 and 0 <= new["code_sparsity"] <= 1

    assert "which latent carries which factor:" in out
    assert out.count("carried by z") + out.count("no latent carries it") == 2  # one sentence per factor (a, b)
    for key in EVERY_RUN | {"mig"}:
        assert f"  {key} " in out
    logged = events(run_dir)
    assert not any(tag.startswith("evaluate/") for tag in logged.Tags()["scalars"])  # no single-point cards
    assert "evaluate/text_summary" in logged.Tags()["tensors"]  # the report, in the Text view

    # Deterministic: reopening the run and scoring it again gives the very same numbers.
    settings = OmegaConf.load(REPO / "configs" / "evaluate.yaml")
    for _ in range(2):
        again = evaluate_experiment(load_run(run_dir, "best").experiment, settings).metrics
        assert json.loads(json.dumps(again)) == new


def test_evaluate_linear_model_adds_the_angle_to_pca_and_applies_overrides(trained_run, tmp_path):
    run_dir = trained_run(*DAMPED_LINEAR, copy_to=tmp_path / "run")
    before, after, out = evaluate(run_dir, "checkpoint=last", "trainer.device=cpu", "trainer.eval_batch_size=7")
    new = assert_merged(before, after, EVERY_RUN | FACTORS | CONTINUOUS | {"pca_angle_deg"})
    assert 0 <= new["pca_angle_deg"] <= 90
    assert len(new["factor_corr"]) == 3  # three latents, rows of (k, b)
    assert "(checkpoint last, epoch 2)" in out
    # evaluated in batches of 7 on the CPU: the same test error train measured in one batch
    assert before["best_epoch"] == 2  # so best.pt, which train scored, is last.pt
    assert new["recon_sse"] == pytest.approx(before["test_recon_sse"], rel=1e-4)


def test_evaluate_vae_run_adds_its_bounds_and_repeats_exactly(trained_run, tmp_path):
    run_dir = trained_run("regularizer=vae", "dataset=damped_oscillation", *TINY, "tsne.enabled=false", copy_to=tmp_path / "run")
    before, after, out = evaluate(run_dir, "nll_iw_samples=5")
    vae = {"elbo", "nll_iw", "nll_iw_se", "nll_iw_rows", "kl", "active_units", "mutual_info", "total_correlation", "dimwise_kl"}
    new = assert_merged(before, after, EVERY_RUN | FACTORS | CONTINUOUS | vae)
    assert new["nll_iw"] <= -new["elbo"] + 1e-3 * abs(new["elbo"]) and new["kl"] >= 0  # the IW bound is the tighter one
    assert "K = 5" in out
    settings = OmegaConf.merge(OmegaConf.load(REPO / "configs" / "evaluate.yaml"), {"nll_iw_samples": 5})
    assert json.loads(json.dumps(evaluate_experiment(load_run(run_dir, "best").experiment, settings).metrics)) == new


def test_evaluate_mnist_subset_adds_probes_and_honours_data_root(mnist_root, trained_run, tmp_path):
    run_dir = trained_run(*mnist_run(mnist_root), copy_to=tmp_path / "run")
    # A run copied from another machine: its config points at a data folder that is not here.
    config = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    config.data.root = str(tmp_path / "elsewhere")
    (run_dir / ".hydra" / "config.yaml").write_text(OmegaConf.to_yaml(config))
    with pytest.raises(UserError, match=f"not found in {tmp_path / 'elsewhere'}.*data.root"):
        load_run(run_dir, "best")

    before, after, out = evaluate(run_dir, f"data.root={mnist_root}", "probe.knn_k=3", "probe.label_budgets=[20,100,1000]")
    # Bernoulli pixels: no ppca_nll; 1000 labels do not fit a train split of 500
    new = assert_merged(before, after, EVERY_RUN | LABELS | {f"probe_linear_acc_{n}{s}" for n in (20, 100) for s in ("", "_std")})
    assert 0.2 < new["probe_linear_acc"] <= 1 and 0.2 < new["probe_knn_acc"] <= 1  # chance: 0.1
    assert 0.1 < new["probe_linear_acc_20"] < new["probe_linear_acc_100"] and new["probe_linear_acc_100_std"] > 0
    assert "3-nearest-neighbour" in out
    assert "probe_linear_acc_1000 left out: 1000 labels do not fit a train split of 500 codes" in out


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def foreign_checkpoint(run_dir: Path, other_run: Path) -> None:
    torch.save({"state_dict": {"w": torch.zeros(3)}}, run_dir / "checkpoints" / "best.pt")


def other_models_checkpoint(run_dir: Path, other_run: Path) -> None:
    (run_dir / "checkpoints" / "best.pt").write_bytes((other_run / "checkpoints" / "best.pt").read_bytes())


def other_models_weights(run_dir: Path, other_run: Path) -> None:
    """The other model's weights under this run's config (a hand-edited or mixed-up file)."""
    payload = torch.load(other_run / "checkpoints" / "best.pt", weights_only=True)
    payload["config"] = torch.load(run_dir / "checkpoints" / "best.pt", weights_only=True)["config"]
    torch.save(payload, run_dir / "checkpoints" / "best.pt")


def truncated_checkpoint(run_dir: Path, other_run: Path) -> None:
    path = run_dir / "checkpoints" / "best.pt"
    path.write_bytes(path.read_bytes()[:1000])


def no_best_checkpoint(run_dir: Path, other_run: Path) -> None:
    (run_dir / "checkpoints" / "best.pt").unlink()


def not_a_run(run_dir: Path, other_run: Path) -> None:
    (run_dir / ".hydra" / "config.yaml").unlink()


def damaged_metrics(run_dir: Path, other_run: Path) -> None:
    (run_dir / "metrics.json").write_text('{"train_loss": 1.0,')


BAD_RUNS = [
    (not_a_run, {}, "is not an aecli run directory (no .hydra/config.yaml)"),
    (no_best_checkpoint, {}, "has no checkpoints/best.pt; train it to the end of an epoch first, or try checkpoint=last"),
    (truncated_checkpoint, {}, "is not a readable checkpoint"),
    (foreign_checkpoint, {}, "is not an aecli checkpoint"),
    (other_models_checkpoint, {}, "was written for model"),
    (other_models_weights, {}, "does not fit the model in the config"),
    (None, {"trainer": {"epochz": 3}}, "cannot apply the override trainer.epochz"),
    (None, {"trainer": {"device": "cuda:7"}}, "trainer.device=cuda:7"),
]


@pytest.mark.parametrize("damage, overrides, message", BAD_RUNS, ids=lambda v: getattr(v, "__name__", None))
def test_a_bad_run_is_refused_with_its_reason_before_anything_is_written(damage, overrides, message, trained_run, tmp_path):
    run_dir = trained_run(*LINES, copy_to=tmp_path / "run")
    if damage is not None:
        damage(run_dir, trained_run(*DAMPED_LINEAR, copy_to=tmp_path / "other"))
    before = snapshot(run_dir)
    with pytest.raises(UserError, match=re.escape(message)):
        load_run(run_dir, "best", overrides)
    assert snapshot(run_dir) == before


@pytest.mark.parametrize(
    "damage, overrides, message",
    [
        (truncated_checkpoint, [], "is not a readable checkpoint"),
        (None, ["+trainer.epochz=3"], "cannot apply the override trainer.epochz"),
        (None, ["checkpoint=final"], "checkpoint=final is not one of best, last"),
        (None, ["factor_corr_method=kendall"], "factor_corr_method=kendall is unknown; choose one of spearman, pearson"),
        (damaged_metrics, [], "metrics.json (JSONDecodeError); fix it or move it away"),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_evaluate_bad_input_is_one_line_exit_2_and_writes_nothing(damage, overrides, message, trained_run, tmp_path):
    run_dir = trained_run(*LINES, copy_to=tmp_path / "run")
    if damage is not None:
        damage(run_dir, None)
    before = snapshot(run_dir)
    result = run_cli("evaluate", f"run={run_dir}", *overrides, check=False, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr + result.stdout
    assert snapshot(run_dir) == before
