"""The results page reads each experiment's claim and targets from its YAML, words the runs'
figures as mean ± sd over seeds and says on which seed a target was missed."""

from __future__ import annotations

import json

from datetime import datetime, timezone

import pytest

from aecli.results import load_entries
from aecli.results.entries import Target, describe, figure
from aecli.results.page import verdict, write_page
from aecli.results.runner import Outcome

MNIST_AE = {"probe_linear_acc": 0.8722, "probe_knn_acc": 0.9031, "recon_sse": 17.87, "pca_recon_sse": 26.73}


def entry(name: str):
    return next(e for e in load_entries() if e.experiment == name)


def completed(*runs):
    return {seed: Outcome("completed", 10.0, metrics) for seed, metrics in enumerate(runs)}


def test_every_experiment_states_its_claim_and_anchor():
    for found in load_entries():
        assert found.claim and found.anchor and found.figures, found.experiment


def test_the_issue_targets_are_declared():
    assert Target("probe_linear_acc", ">=", 0.90) in entry("mnist_ae").targets
    assert entry("hinton2006").targets == [Target("recon_sse", "<=", 3.0)]
    assert entry("hinton2006_2d").targets == []  # inherits the claim, not the 30-D target
    assert Target("factors", ">=", 0.95) in entry("lines_vae3").targets  # from lines_vae
    assert entry("variance_mnist_ae").targets == [Target("probe_linear_acc", "<=", -0.30, "variance_mnist_dae")]


def test_an_experiment_another_is_measured_against_runs_first():
    order = [found.experiment for found in load_entries()]
    assert order.index("variance_mnist_dae") < order.index("variance_mnist_ae")


@pytest.mark.parametrize("text", ["probe >= ", "probe > 0.9", "probe >= other + x", ">= 1"])
def test_a_malformed_target_is_refused(text):
    with pytest.raises(ValueError, match="claim target"):
        Target.parse(text)


def test_one_run_is_worded_without_a_spread():
    text = describe(entry("mnist_ae"), [MNIST_AE], {})
    assert text == ("linear probe 87.2 %; kNN probe 90.3 %; test squared error per image 17.9; "
                    "PCA with the same code size 26.7")


def test_seeds_are_worded_as_mean_and_sample_sd():
    runs = [MNIST_AE | {"probe_linear_acc": acc} for acc in (0.90, 0.91, 0.92)]
    assert describe(entry("mnist_ae"), runs, {}).startswith("linear probe 91.0 ± 1.0 %;")


def test_a_compared_experiment_is_shown_beside():
    sparse = {"code_sparsity": 0.39, "recon_sse": 26.03}
    text = describe(entry("sparse_mnist"), [sparse], {"mnist_ae": [{"code_sparsity": 0.03, "recon_sse": 17.87}]})
    assert text == "fraction of code entries below 0.1 0.39 (mnist_ae: 0.03); test squared error per image 26 (mnist_ae: 17.9)"


def test_factor_rows_name_the_best_latent_per_factor_and_seed():
    runs = [{"factor_corr": [[0.80, 0.10], [0.05, 0.98]]}, {"factor_corr": [[0.10, -0.96], [0.90, 0.05]]}]
    text = describe(entry("lines_vae") , [run | {"active_units": 2, "kl": 5, "mig": 0.2, "recon_sse": 0.1} for run in runs], {})
    assert "a: 0.85 ± 0.07 (z0, z1); b: 0.97 ± 0.01 (z1, z0)" in text


def test_factors_figure_is_the_weakest_and_zero_when_two_share_a_latent():
    lines = entry("lines_vae")
    assert figure(lines, {"factor_corr": [[0.99, 0.1], [0.2, -0.96], [0.0, 0.0]]}, "factors") == pytest.approx(0.96)
    assert figure(lines, {"factor_corr": [[0.99, 0.97], [0.2, 0.5]]}, "factors") == 0.0


def test_verdict_names_each_seed_that_misses():
    runs = completed(MNIST_AE | {"probe_linear_acc": 0.91}, MNIST_AE | {"probe_linear_acc": 0.895}, MNIST_AE | {"probe_linear_acc": 0.92})
    assert verdict(entry("mnist_ae"), runs, [0, 1, 2], {}) == "**missed**: seed 1: probe_linear_acc 89.5 %"
    del runs[1]
    assert verdict(entry("mnist_ae"), runs, [0, 1, 2], {}).startswith("so far (seeds 0, 2")
    assert verdict(entry("mnist_ae"), completed(*[MNIST_AE | {"probe_linear_acc": 0.9}] * 3), [0, 1, 2], {}) == "yes (seeds 0, 1, 2)"


def test_a_relative_target_uses_the_other_experiments_mean():
    failing_ae = entry("variance_mnist_ae")
    dae = [{"probe_linear_acc": 0.90}, {"probe_linear_acc": 0.92}]
    assert verdict(failing_ae, completed({"probe_linear_acc": 0.60}), [0], {"variance_mnist_dae": dae}) == "yes (seeds 0)"
    assert "missed" in verdict(failing_ae, completed({"probe_linear_acc": 0.62}), [0], {"variance_mnist_dae": dae})
    assert "missed" in verdict(failing_ae, completed({"probe_linear_acc": 0.1}), [0], {})  # nothing to compare with yet


def test_a_picture_of_seed_0_is_linked_from_its_row(tmp_path):
    outcomes = {("hinton2006_2d", 0): Outcome("completed", 60.0, {"recon_sse": 26.5, "pca_recon_sse": 43.6,
                                                                   "probe_linear_acc": 0.66, "probe_knn_acc": 0.83})}
    page = tmp_path / "RESULTS.md"
    write_page(page, [entry("hinton2006_2d")], outcomes, [0], "python -m aecli.results", datetime.now(timezone.utc), ["0"])
    assert "[figures/hinton2006_2d_codes.png](figures/hinton2006_2d_codes.png)" in page.read_text()


def test_the_page_has_a_row_per_experiment_and_says_what_is_missing(tmp_path):
    entries = [entry("mnist_ae"), entry("lines_vae")]
    outcomes = {("mnist_ae", 0): Outcome("completed", 17.0, MNIST_AE | {"device": "cpu", "torch_threads": 1}, load=[1.0, 1.4]),
                ("mnist_ae", 1): Outcome("failed", 3.0, note="exit 1: boom")}
    page = tmp_path / "RESULTS.md"
    write_page(page, entries, outcomes, [0, 1], "python -m aecli.results --jobs 2", datetime.now(timezone.utc), ["0.1, 0.1, 0.1"])
    text = page.read_text()
    assert "| mnist_ae | A 10-D bottleneck" in text and "89.82 %" in text and "linear probe 87.2 %" in text
    assert "seed 1 failed: exit 1: boom" in text and "**missed**: seed 0: probe_linear_acc 87.2 %" in text
    assert "| lines_vae |" in text and "seed 0 not run yet" in text
    assert "ranged over 1.0 to 1.4" in text
    assert ("**Targets met on every seed: 0 of the 2 experiments with a target**; missed: mnist_ae; "
            "not yet run on every seed: lines_vae.") in text


def test_the_page_is_written_into_a_folder_that_does_not_exist_yet(tmp_path):
    page = tmp_path / "try" / "RESULTS.md"
    write_page(page, [entry("mnist_ae")], {}, [0], "python -m aecli.results --out try/RESULTS.md",
               datetime.now(timezone.utc), ["0"])
    assert "| mnist_ae |" in page.read_text()


def test_evaluates_table_and_the_page_word_a_figure_from_one_glossary_with_its_settings(monkeypatch):
    """The threshold of code_sparsity is a setting: the page says the one the experiments' own
    evaluate ran with (the shipped evaluate.yaml), evaluate's table the one it was given."""
    from omegaconf import OmegaConf

    from aecli.config import glossary
    from aecli.results import entries

    settings = OmegaConf.create({"probe": {"knn_k": 7, "draws": 3}, "mig_bins": 20, "sparsity_threshold": 0.25,
                                 "nll_iw_samples": 50})
    context = glossary.settings_context(settings) | {"dims": 784, "latent_dim": 10, "pca_components": 10}
    assert glossary.meaning("code_sparsity", context) == "fraction of code entries with |value| < 0.25"
    assert glossary.meaning("probe_knn_acc", context).startswith("7-nearest-neighbour vote")
    assert glossary.meaning("probe_linear_acc_100_std", context) == "spread (std) of those 3 draws"
    assert glossary.words("probe_linear_acc_1000", context) == "linear probe with 1000 labels"
    assert glossary.meaning("not_a_metric", context) == "" and glossary.words("not_a_metric", context) == "not_a_metric"
    shipped = OmegaConf.merge(entries.shipped_settings("evaluate"), {"sparsity_threshold": 0.05})
    monkeypatch.setattr(entries, "shipped_settings", lambda command: shipped)
    assert describe(entry("sparse_mnist"), [{"code_sparsity": 0.39, "recon_sse": 26.03}], {}).startswith(
        "fraction of code entries below 0.05 0.39")


def test_a_run_is_reused_only_while_its_config_is_the_experiments_and_unedited(tmp_path, monkeypatch, capsys):
    """A completed run folder is read as current only when its recorded config hash is that of its
    experiment as composed now and its saved config still hashes as trained; an edited run (here
    trainer.lr in .hydra/config.yaml) is moved aside and made again, saying why."""
    import yaml

    from aecli.results import runner

    tiny = ["dataset.num_samples=300", "trainer.epochs=2", "tsne.num_points=60"]
    plain = runner.overrides_of
    monkeypatch.setattr(runner, "overrides_of", lambda entry, seed, root: [*plain(entry, seed, root), *tiny])
    experiment, runs = entry("linear_pca_lines"), tmp_path / "runs"
    first = runner.run_entry(experiment, 0, runs, tmp_path / "figures", None, 1)
    assert first.status == "completed" and not first.reused and first.metrics["config_hash"]
    again = runner.run_entry(experiment, 0, runs, tmp_path / "figures", None, 1)
    assert again.status == "completed" and again.reused and again.metrics == first.metrics
    metrics_path = runs / "linear_pca_lines" / "seed0" / "metrics.json"  # as an aecli before settings hashes wrote it
    older = {k: v for k, v in json.loads(metrics_path.read_text()).items() if k not in ("settings_hash", "saved_settings_hash")}
    metrics_path.write_text(json.dumps(older))
    assert runner.run_entry(experiment, 0, runs, tmp_path / "figures", None, 1).reused  # by its exact config hash

    config = runs / "linear_pca_lines" / "seed0" / ".hydra" / "config.yaml"
    saved = yaml.safe_load(config.read_text())
    saved["trainer"]["lr"] = 0.5
    config.write_text(yaml.safe_dump(saved))
    redone = runner.run_entry(experiment, 0, runs, tmp_path / "figures", None, 1)
    assert redone.status == "completed" and not redone.reused
    assert "edited after training" in redone.note and "made again" in capsys.readouterr().out
    assert len(list((runs / "linear_pca_lines" / "stale").iterdir())) == 1
    assert yaml.safe_load(config.read_text())["trainer"]["lr"] != 0.5

    monkeypatch.setattr(runner, "overrides_of", lambda entry, seed, root: [*plain(entry, seed, root), *tiny, "trainer.lr=0.002"])
    changed = runner.run_entry(experiment, 0, runs, tmp_path / "figures", None, 1)
    assert changed.status == "completed" and not changed.reused and "made with other settings" in changed.note


def test_the_figures_command_draws_a_runs_loss_curves_from_its_event_files(trained_run, tmp_path, monkeypatch):
    from aecli.results import figures
    from conftest import TINY

    run = trained_run(*TINY, "tsne.enabled=false", copy_to=tmp_path / "run")
    figures.draw_loss_curves(run, tmp_path / "loss_curves.png")
    assert (tmp_path / "loss_curves.png").stat().st_size > 10_000
    monkeypatch.delenv("AECLI_DATA_DIR", raising=False)
    assert figures.main(["--out", str(tmp_path / "figures")]) == 2  # no data root: one line, nothing made
    assert not (tmp_path / "figures").exists()
