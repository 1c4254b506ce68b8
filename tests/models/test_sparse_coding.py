"""Sparse coding: ISTA / monotone FISTA inference, the dictionary's unit-norm atoms, PSD, and
`aecli train|evaluate|visualize-latents` on tiny runs."""

from __future__ import annotations

import json
import re

import pytest
import torch
from omegaconf import OmegaConf

from aecli.engine.curves import curve_tag
from aecli.errors import UserError
from aecli.models import build_model
from aecli.models.sparse_coding import infer_codes, lasso_objective, lipschitz_constant, soft_threshold
from conftest import run_cli
from conftest import events

MODEL = OmegaConf.create(
    {"name": "sparse_coding", "latent_dim": 8, "lambda": 0.1, "inference": "ista", "iterations": 30, "psd": False, "psd_weight": 1.0}
)
SPARSE_RUN = (
    "dataset=damped_oscillation", "dataset.num_samples=300", "model=sparse_coding", "model.latent_dim=12",
    "trainer.epochs=2", "tsne.enabled=false",
)


def random_problem(n: int = 20, atoms: int = 40, batch: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    dictionary = torch.randn(n, atoms, generator=generator, dtype=torch.float64)
    dictionary /= dictionary.norm(dim=0, keepdim=True)
    x = torch.randn(batch, n, generator=generator, dtype=torch.float64)
    return x, dictionary


def test_ista_on_an_orthogonal_dictionary_recovers_a_sparse_code_in_one_step():
    """The lecture's example: D orthogonal, so L = 1 and one ISTA step from 0 is soft(D^T x, lambda),
    the exact lasso minimizer; with lambda below the smallest non-zero magnitude every non-zero
    entry survives (shrunk by lambda) and every zero stays zero."""
    q, _ = torch.linalg.qr(torch.randn(10, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    code = torch.tensor([[0.0, 2.0, 0.0, -0.7, 0.0, 0.0, 1.3, 0.0, 0.0, -3.0]], dtype=torch.float64)
    x = code @ q.T
    lam = 0.5  # below 0.7, the smallest non-zero magnitude
    assert lipschitz_constant(q).item() == pytest.approx(1.0)
    one_step = infer_codes(x, q, lam, iterations=1)
    assert torch.equal(one_step != 0, code != 0)  # the support, exactly
    torch.testing.assert_close(one_step, code - lam * code.sign())
    torch.testing.assert_close(infer_codes(x, q, lam, iterations=20), one_step)  # already the minimizer
    torch.testing.assert_close(infer_codes(x, q, lam, iterations=1, method="fista"), one_step)


@pytest.mark.parametrize("method", ["ista", "fista"])
def test_the_lasso_objective_never_rises_with_step_one_over_l(method):
    """ISTA with step 1/L is a majorize-minimize scheme; FISTA is run in its monotone form (plain
    FISTA may rise). Checked on every row, every iteration, with the objective computed directly."""
    x, dictionary = random_problem()
    history: list[torch.Tensor] = []
    codes = infer_codes(x, dictionary, 0.2, iterations=60, method=method, history=history)
    values = torch.stack(history)  # (iterations, batch)
    assert (values[1:] <= values[:-1] + 1e-12).all()
    assert values[0].lt(lasso_objective(x, dictionary, torch.zeros_like(codes), 0.2)).all()
    torch.testing.assert_close(values[-1], lasso_objective(x, dictionary, codes, 0.2))


def test_fista_reaches_a_lower_objective_than_ista_in_as_many_iterations():
    x, dictionary = random_problem(atoms=60)
    ista = lasso_objective(x, dictionary, infer_codes(x, dictionary, 0.05, 25, "ista"), 0.05)
    fista = lasso_objective(x, dictionary, infer_codes(x, dictionary, 0.05, 25, "fista"), 0.05)
    best = lasso_objective(x, dictionary, infer_codes(x, dictionary, 0.05, 5000, "fista"), 0.05)
    assert (fista - best).mean() < 0.5 * (ista - best).mean()  # measured: 0.054 vs 0.136


def test_soft_threshold_and_codes_have_exact_zeros():
    torch.testing.assert_close(soft_threshold(torch.tensor([-2.0, -0.5, 0.0, 0.3, 1.5]), 0.5), torch.tensor([-1.5, 0.0, 0.0, 0.0, 1.0]))
    x, dictionary = random_problem()
    codes = infer_codes(x, dictionary, 0.5, iterations=50)
    assert 0.2 < (codes == 0).double().mean() < 1.0


def test_atoms_stay_unit_norm_through_training_steps_and_the_step_follows_the_dictionary():
    torch.manual_seed(0)
    model = build_model(MODEL, (30,), 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    x = torch.randn(64, 30)
    torch.testing.assert_close(model.dictionary.norm(dim=0), torch.ones(8))
    lipschitz = [lipschitz_constant(model.dictionary.detach()).item()]
    for _ in range(5):
        forward = model(x)
        loss = 0.5 * (forward.output - x).pow(2).sum(1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.after_step()  # what training.fit calls after every optimizer step
        torch.testing.assert_close(model.dictionary.norm(dim=0), torch.ones(8))
        lipschitz.append(lipschitz_constant(model.dictionary.detach()).item())
    assert len(set(lipschitz)) > 1  # D changed, and L with it (infer_codes recomputes it per call)


def test_psd_encoder_learns_to_predict_the_codes_and_encode_uses_it():
    torch.manual_seed(0)
    model = build_model(OmegaConf.merge(MODEL, {"psd": True}), (30,), 1)
    x = torch.randn(256, 30)
    optimizer = torch.optim.Adam(model.encoder.parameters(), lr=1e-2)
    first = None
    for _ in range(200):
        psd = model.penalty(x, model(x))["psd"]
        first = psd.item() if first is None else first
        optimizer.zero_grad()
        psd.backward()
        optimizer.step()
    assert psd.item() < 0.3 * first
    with torch.no_grad():
        torch.testing.assert_close(model.encode(x), model.encoder(x))  # the fast encoder, not the inference
        assert not torch.equal(model.encode(x), model.inference(x))


def test_the_jacobian_closed_form_matches_finite_differences_at_a_converged_code():
    """Near a lasso solution the code is linear in x while the support and signs hold, so central
    differences with a small step give its Jacobian exactly (up to the inference's convergence)."""
    from aecli.models.jacobian import squared_jacobian_norm

    torch.manual_seed(0)
    settings = OmegaConf.merge(MODEL, {"iterations": 2000, "inference": "fista", "lambda": 0.3})
    model = build_model(settings, (12,), 1).double()
    x = torch.randn(4, 12, dtype=torch.float64)
    closed = squared_jacobian_norm(model, x)
    step = 1e-5
    shifts = step * torch.eye(12, dtype=torch.float64)  # one inference for every shifted input at once
    shifted = torch.cat([x[:, None] + shifts, x[:, None] - shifts], dim=1).reshape(-1, 12)
    plus, minus = model.encode(shifted).reshape(4, 2, 12, -1).unbind(1)
    numeric = ((plus - minus) / (2 * step)).pow(2).sum((1, 2))
    assert (model.encode(x) == 0).any() and (model.encode(x) != 0).any()  # a real support, not all or nothing
    torch.testing.assert_close(closed, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize(
    "override, message",
    [
        ({"lambda": -1}, "model.lambda must be a number >= 0"),
        ({"iterations": 0}, "model.iterations must be a positive integer"),
        ({"inference": "lars"}, "model.inference=lars is unknown; choose one of ista, fista"),
    ],
)
def test_bad_settings_are_user_errors(override, message):
    with pytest.raises(UserError, match=message):
        build_model(OmegaConf.merge(MODEL, override), (30,), 1)


def test_a_likelihood_other_than_squared_error_is_refused():
    from aecli.likelihoods.bernoulli import Bernoulli

    with pytest.raises(UserError, match="model=sparse_coding minimizes squared error; use likelihood=gaussian"):
        build_model(MODEL, (30,), 1).check(Bernoulli(), [], None)


def test_train_evaluate_and_visualize_a_sparse_coding_run(trained_run, tmp_path):
    run_dir = trained_run(*SPARSE_RUN, copy_to=tmp_path / "run")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for split in ("train", "val", "test"):
        assert {f"{split}_l1", f"{split}_code_mean_abs", f"{split}_code_zero_fraction", f"{split}_recon"} <= set(metrics)
    assert 0 < metrics["test_code_zero_fraction"] < 1 and metrics["test_code_mean_abs"] > 0
    accumulator = events(run_dir)
    tags = {curve_tag("code_zero_fraction", "train"), curve_tag("code_mean_abs", "val"), curve_tag("recon_sse", "val")}
    assert tags <= set(accumulator.Tags()["scalars"])
    assert "dictionary/atoms" in accumulator.Tags()["images"]  # curves for 1-D data
    dictionary = torch.load(run_dir / "checkpoints" / "best.pt", weights_only=True)["model"]["decoder.weight"]
    torch.testing.assert_close(dictionary.norm(dim=0), torch.ones(12))

    out = run_cli("evaluate", f"run={run_dir}", cwd=tmp_path).stdout
    scores = json.loads((run_dir / "metrics.json").read_text())
    assert scores["recon_sse"] == pytest.approx(metrics["test_recon_sse"], rel=1e-4)  # encode runs the inference
    assert 0 < scores["code_sparsity"] < 1 and scores["jacobian_fro"] > 0 and "mig" in scores
    assert "recon_sse" in out
    run_cli("visualize-latents", f"run={run_dir}", "method=pca", "num_points=40", cwd=tmp_path)
    assert (run_dir / "latent_pca.png").stat().st_size > 10_000


@pytest.mark.slow
def test_psd_run_on_mnist_logs_atoms_as_images_and_evaluates_with_the_fast_encoder(mnist_root, tmp_path):
    run_dir = tmp_path / "run"
    run_cli(
        "train", "dataset=mnist", f"data.root={mnist_root}", "likelihood=gaussian", "dataset.train_size=300",
        "dataset.val_size=100", "dataset.test_size=100", "model=sparse_coding", "model.latent_dim=20", "model.psd=true",
        "model.inference=fista", "model.iterations=20", "trainer.epochs=1", "tsne.enabled=false",
        f"hydra.run.dir={run_dir}", cwd=tmp_path,
    )
    accumulator = events(run_dir)
    assert "dictionary/atoms" in accumulator.Tags()["images"]
    assert curve_tag("psd", "train") in accumulator.Tags()["scalars"]
    run_cli("evaluate", f"run={run_dir}", cwd=tmp_path)
    scores = json.loads((run_dir / "metrics.json").read_text())
    assert {"probe_linear_acc", "probe_knn_acc", "code_sparsity", "jacobian_fro"} <= set(scores)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (("likelihood=gaussian_learned",), "model=sparse_coding reconstructs with squared error; use likelihood=gaussian"),
        (("regularizer=l2",), "model=sparse_coding brings its own L1 penalty (model.lambda) and takes no regularizer"),
    ],
)
def test_combinations_that_cannot_work_are_refused_before_training(overrides, message, tmp_path):
    """Through build_experiment, the one place train and evaluate check a run's parts."""
    from hydra import compose, initialize_config_module

    from aecli.engine.experiment import build_experiment

    with initialize_config_module("aecli.configs", version_base="1.3"):
        cfg = compose("train", ["model=sparse_coding", "dataset.num_samples=100", *overrides])
    with pytest.raises(UserError, match=re.escape(message)):
        build_experiment(cfg, torch.device("cpu"))
