"""Sweeps: multirun with the basic and joblib launchers, a failing job that does not stop the
others, the sweep summary, HParams per run, Optuna and submitit, the objective a job returns."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from aecli.errors import UserError
from aecli.config.keys import TRAIN
from aecli.config.schema import check_values
from aecli.runs.sweeps import objective_value, record_failure, write_summary
from conftest import run_cli

TINY = ["dataset.num_samples=200", "trainer.epochs=1", "tsne.enabled=false", "log.num_reconstructions=0",
        "trainer.progress=false"]


def plugin(module: str):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None, reason=f"{module} is not installed (pip install 'aecli[sweeps]')")


def summary_rows(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "summary.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def metrics(job_dir: Path) -> dict:
    return json.loads((job_dir / "metrics.json").read_text())


def hparams_logged(job_dir: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    from aecli.engine.curves import BEST_VAL, FINAL
    from aecli.runs.store import events_folder

    events = EventAccumulator(str(events_folder(job_dir)))
    events.Reload()
    start = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    assert BEST_VAL in events.Tags()["scalars"]
    scalars = events.Tags()["scalars"]
    assert f"{FINAL}/test_loss" in scalars  # a final figure: a card in a group after the curves'
    assert not any(tag.startswith(("hparams/", "test/", "evaluate/")) for tag in scalars)  # no single-point cards ahead
    return set(plugin_data_pb2.HParamsPluginData.FromString(start).session_start_info.hparams)


def test_basic_launcher_sweep_writes_a_ranked_summary_and_hparams(tmp_path):
    sweep = tmp_path / "sweep"
    out = run_cli("train", "-m", *TINY, "model.latent_dim=1,4", f"hydra.sweep.dir={sweep}", cwd=tmp_path).stdout
    assert out.splitlines()[-1] == f"sweep summary: {sweep / 'summary.md'}"

    rows = summary_rows(sweep)
    assert [row["status"] for row in rows] == ["completed", "completed"]
    losses = [float(row["val_loss"]) for row in rows]
    assert losses == sorted(losses)  # best first
    assert {row["job"].split(",model.latent_dim=")[1].split(",")[0] for row in rows} == {"1", "4"}  # named by what they override
    assert {row["job"].split("_")[0] for row in rows} == {"0", "1"} and {row["dataset"] for row in rows} == {"lines"}
    assert list(rows[0]).count("val_loss") == 1
    for row in rows:
        job = metrics(sweep / row["job"])
        assert float(row["val_loss"]) == job["val_loss"] and float(row["test_recon_sse"]) == job["test_recon_sse"]
        latent_dim = OmegaConf.load(sweep / row["job"] / ".hydra" / "config.yaml").model.latent_dim
        assert f"model.latent_dim={latent_dim}" in row["overrides"].split()
    markdown = (sweep / "summary.md").read_text()
    assert "2 jobs (2 completed)" in markdown and markdown.index("| 1 | " + rows[0]["job"]) < markdown.index("| 2 | ")
    first = next(sweep.glob("0_*"))
    logged = hparams_logged(first)
    assert {"model.latent_dim", "dataset", "model", "regularizer"} <= logged
    assert "dataset.num_samples" not in logged and "trainer.lr" not in logged  # the same in every job


@plugin("hydra_plugins.hydra_joblib_launcher")
def test_joblib_sweep_isolates_a_failing_job_and_sets_threads(tmp_path):
    sweep = tmp_path / "sweep"
    env = {"OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "3"}  # what the jobs must not keep
    result = run_cli(
        "train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *TINY, "trainer.lr=-1,0.001",
        f"hydra.sweep.dir={sweep}", cwd=tmp_path, check=False, env=env,
    )
    assert result.returncode == 1  # the sweep reports the failure, after every job ran
    assert "trainer.lr must be a positive number" in result.stdout + result.stderr

    failed, done = next(sweep.glob("0_*")), next(sweep.glob("1_*"))
    assert "trainer.lr must be a positive number, got -1" in (failed / "error.txt").read_text()
    assert metrics(failed)["status"] == "failed" and "trainer.lr" in metrics(failed)["error"]
    assert metrics(done)["status"] == "completed"
    assert metrics(done)["torch_threads"] == max(1, (os.cpu_count() or 1) // 2)  # cores // n_jobs

    rows = summary_rows(sweep)
    assert [(row["job"][0], row["status"]) for row in rows] == [("1", "completed"), ("0", "failed")]
    assert "trainer.lr=-1" in rows[1]["overrides"] and "got -1" in rows[1]["error"]
    assert "failed: aecli train: error: trainer.lr must be a positive number" in (sweep / "summary.md").read_text()


@plugin("hydra_plugins.hydra_optuna_sweeper")
def test_optuna_search_optimizes_the_chosen_objective(tmp_path):
    sweep = tmp_path / "sweep"
    run_cli(
        "train", "-m", "+search=optuna", "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=1", *TINY,
        "model.latent_dim=choice(1,4)", "objective.metric=test_recon_sse", f"hydra.sweep.dir={sweep}", cwd=tmp_path,
    )
    best = OmegaConf.load(sweep / "optimization_results.yaml")
    rows = summary_rows(sweep)
    assert len(rows) == 2 and all(row["status"] == "completed" for row in rows)
    assert float(rows[0]["test_recon_sse"]) == pytest.approx(best.best_value) == min(float(r["test_recon_sse"]) for r in rows)


@plugin("hydra_plugins.hydra_submitit_launcher")
def test_submitit_local_launcher_runs_a_job(tmp_path):
    sweep = tmp_path / "sweep"
    run_cli("train", "-m", "hydra/launcher=submitit_local", "hydra.launcher.cpus_per_task=1", *TINY,
              f"hydra.sweep.dir={sweep}", cwd=tmp_path, env={"OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "3"})
    job = next(sweep.glob("0_*"))
    assert metrics(job)["status"] == "completed"
    assert metrics(job)["torch_threads"] == 1
    assert [row["status"] for row in summary_rows(sweep)] == ["completed"]


def test_missing_plugin_is_one_line():
    """Hydra finds no launcher or sweeper option where its plugin is not installed (+search=optuna
    asks for hydra/sweeper=optuna): the line names the package to install."""
    from hydra.errors import MissingConfigException

    from aecli.commands.hydra_errors import hydra_error_line

    def missing(name):
        return MissingConfigException(f"Could not find '{name}'", missing_cfg_file=name, options=["basic"])

    assert hydra_error_line(missing("hydra/launcher/joblib"), "train") == (
        "hydra/launcher=joblib needs the hydra-joblib-launcher plugin; install the sweep extras: pip install 'aecli[sweeps]'"
    )
    assert "hydra-optuna-sweeper" in hydra_error_line(missing("hydra/sweeper/optuna"), "train")
    assert hydra_error_line(missing("hydra/launcher/jobslib"), "train") == "unknown hydra/launcher 'jobslib'; choose one of basic"


def fake_job(sweep: Path, name: str, overrides: list[str], values: dict | None) -> Path:
    job = sweep / name
    (job / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create(overrides), job / ".hydra" / "overrides.yaml")
    if values is not None:
        (job / "metrics.json").write_text(json.dumps(values))
    return job


def test_summary_ranks_by_direction_and_puts_failed_and_running_jobs_last(tmp_path):
    fake_job(tmp_path, "0", ["trainer.lr=0.1"], {"status": "completed", "probe_linear_acc": 0.5, "val_loss": 3.0})
    fake_job(tmp_path, "1", ["trainer.lr=0.01"], {"status": "completed", "probe_linear_acc": 0.9, "val_loss": 5.0})
    record_failure(fake_job(tmp_path, "2", ["trainer.lr=-1"], None), UserError("trainer.lr must be a positive number"))
    fake_job(tmp_path, "10", ["trainer.lr=1"], {"status": "diverged", "val_loss": 1.0})
    fake_job(tmp_path, "3", ["trainer.lr=2"], None)  # still running

    jobs = write_summary(tmp_path, "probe_linear_acc", "maximize")
    assert [(job.name, job.status) for job in jobs] == [
        ("1", "completed"), ("0", "completed"), ("2", "failed"), ("3", "running"), ("10", "diverged")]
    rows = summary_rows(tmp_path)
    assert [row["job"] for row in rows] == ["1", "0", "2", "3", "10"]
    assert rows[0]["probe_linear_acc"] == "0.9" and rows[2]["error"] == "trainer.lr must be a positive number"
    assert [job.name for job in write_summary(tmp_path, "val_loss", "minimize")][:2] == ["0", "1"]


def test_jobs_on_different_datasets_are_ranked_apart(tmp_path):
    for name, dataset, loss in (("0", "mnist", 80.0), ("1", "lines", 5.0), ("2", "mnist", 60.0), ("3", "lines", 9.0)):
        job = fake_job(tmp_path, name, [f"dataset={dataset}"], {"status": "completed", "val_loss": loss})
        OmegaConf.save(OmegaConf.create({"dataset": {"name": dataset}}), job / ".hydra" / "config.yaml")
    write_summary(tmp_path, "val_loss", "minimize")
    rows = summary_rows(tmp_path)
    assert [(row["dataset"], row["rank"], row["job"]) for row in rows] == [
        ("lines", "1", "1"), ("lines", "2", "3"), ("mnist", "1", "2"), ("mnist", "2", "0")]
    assert list(rows[0]).count("val_loss") == 1
    assert "| 1 | 2 | mnist |" in (tmp_path / "summary.md").read_text()


def test_objective_is_checked_and_read():
    check_values(OmegaConf.create({"objective": {"metric": "val_loss", "direction": "minimize"}}), TRAIN)
    with pytest.raises(UserError, match="objective.direction must be one of minimize, maximize"):
        check_values(OmegaConf.create({"objective": {"metric": "val_loss", "direction": "down"}}), TRAIN)
    objective = OmegaConf.create({"metric": "probe_linear_acc", "direction": "maximize"})
    assert objective_value(objective, {"probe_linear_acc": 0.75}) == 0.75
    with pytest.raises(UserError, match="need evaluate_after=true.*choose one of test_loss, val_loss"):
        objective_value(objective, {"val_loss": 1.0, "test_loss": 2.0, "status": "completed"})
