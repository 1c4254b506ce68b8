"""The `aecli` entry point: instant help, dispatch, Hydra flags and one-line user errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import run_aecli


def test_help_lists_commands_without_importing_torch():
    code = (
        "import sys\n"
        "from aecli.cli import main\n"
        "assert main(['--help']) == 0\n"
        "heavy = [m for m in ('torch', 'hydra', 'sklearn', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for command in ("train", "evaluate", "visualize-latents"):
        assert f"  {command}" in result.stdout


def test_console_script_help_and_unknown_command():
    assert "visualize-latents" in run_aecli("--help").stdout
    result = run_aecli("fit", check=False)
    assert result.returncode == 2
    assert "unknown command 'fit'" in result.stderr


def test_train_cfg_job_shows_resolved_groups():
    out = run_aecli("train", "--cfg", "job", "dataset=damped_oscillation", "model.latent_dim=3").stdout
    assert "name: damped_oscillation" in out
    assert "latent_dim: 3" in out


def test_mnist_selects_bernoulli_unless_overridden():
    assert "name: bernoulli" in run_aecli("train", "--cfg", "job", "dataset=mnist").stdout
    out = run_aecli("train", "--cfg", "job", "dataset=mnist", "likelihood=gaussian").stdout
    assert "name: gaussian" in out


def test_train_help_names_groups():
    out = run_aecli("train", "--help").stdout
    assert "aecli train" in out
    assert "dataset: damped_oscillation, lines, mnist, variance_mnist" in out
    assert "model: conv, linear, mlp" in out


@pytest.mark.parametrize("command", ["evaluate", "visualize-latents"])
def test_run_commands_show_help_and_refuse_a_missing_run_in_one_line(command, tmp_path):
    assert "run: ???" in run_aecli(command, "--help").stdout
    result = run_aecli(command, f"run={tmp_path / 'nowhere'}", check=False, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"aecli {command}: error: run directory {tmp_path / 'nowhere'} does not exist; "
        f"pass run=DIR, a directory written by aecli train"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model=conv"], "model=conv needs image data"),
        (["likelihood=bernoulli"], "likelihood=bernoulli needs data in [0, 1]"),
        (["dataset=mnist", "data.root=missing"], "data.download=true"),
        (["trainer.epochs=0"], "trainer.epochs must be a positive integer"),
        (["trainer.batch_size=0"], "trainer.batch_size must be a positive integer"),
        (["trainer.lr=-0.1"], "trainer.lr must be a positive number"),
        (["model.latent_dim=0"], "model.latent_dim must be a positive integer"),
        (["dataset.sampling=sobol"], "dataset.sampling must be 'random' or 'grid'"),
        (["dataset.a_range=[1,0]"], "dataset.a_range must be two finite numbers"),
    ],
)
def test_user_errors_are_one_line_without_traceback(overrides, message, tmp_path):
    result = run_aecli("train", *overrides, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_unknown_option_names_the_valid_choices(tmp_path):
    result = run_aecli("train", "model=transformer", cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert "Available options in 'model'" in result.stderr
    assert "mlp" in result.stderr
    assert "Traceback" not in result.stderr
