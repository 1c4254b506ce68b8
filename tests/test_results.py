"""The results page reads each experiment's claim from its YAML and words the run's figures."""

from __future__ import annotations

from datetime import datetime, timezone

from aecli.results import load_entries
from aecli.results.entries import describe
from aecli.results.page import write_page
from aecli.results.runner import Outcome

MNIST_AE = {"probe_linear_acc": 0.8722, "probe_knn_acc": 0.9031, "recon_sse": 17.87, "pca_recon_sse": 26.73}


def entry(name: str):
    return next(e for e in load_entries() if e.experiment == name)


def test_every_experiment_states_its_claim_and_anchor():
    for found in load_entries():
        assert found.claim and found.anchor and found.figures, found.experiment


def test_figures_are_worded_from_the_metrics():
    text = describe(entry("mnist_ae"), MNIST_AE, {})
    assert text == ("linear probe 87.2 %; kNN probe 90.3 %; test squared error per image 17.9; "
                    "PCA with the same code size 26.7")


def test_a_compared_experiment_is_shown_beside():
    sparse = {"code_sparsity": 0.39, "recon_sse": 26.03}
    text = describe(entry("sparse_mnist"), sparse, {"mnist_ae": {"code_sparsity": 0.03, "recon_sse": 17.87}})
    assert text == "fraction of code entries below 0.1 0.39 (mnist_ae: 0.03); test squared error per image 26 (mnist_ae: 17.9)"


def test_factor_rows_name_the_best_latent_per_factor():
    metrics = {"active_units": 2, "kl": 5.33, "factor_corr": [[0.80, 0.10], [0.05, 0.98]], "mig": 0.25, "recon_sse": 0.162}
    text = describe(entry("lines_vae"), metrics, {})
    assert "best latent per factor (absolute Spearman r) a: z0 (0.80), b: z1 (0.98)" in text


def test_the_page_has_a_row_per_experiment_and_says_what_is_missing(tmp_path):
    entries = [entry("mnist_ae"), entry("lines_vae")]
    outcomes = {"mnist_ae": Outcome("completed", 17.0, MNIST_AE | {"device": "cpu", "torch_threads": 1})}
    page = tmp_path / "RESULTS.md"
    write_page(page, entries, outcomes, "python -m aecli.results", datetime.now(timezone.utc), ["0.1, 0.1, 0.1"])
    text = page.read_text()
    assert "| mnist_ae | A 10-D bottleneck" in text and "89.82 %" in text and "linear probe 87.2 %" in text
    assert "| lines_vae |" in text and "not run" in text
