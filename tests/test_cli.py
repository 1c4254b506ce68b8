"""The `aecli` entry point: instant help, dispatch, Hydra flags and one-line user errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import run_aecli, run_cli


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
    out = run_cli("train", "--cfg", "job", "dataset=damped_oscillation", "model.latent_dim=3").stdout
    assert "name: damped_oscillation" in out
    assert "latent_dim: 3" in out


def test_the_likelihood_is_auto_unless_overridden():  # auto becomes bernoulli for MNIST when built (tests/engine/test_compose.py)
    assert "name: auto" in run_cli("train", "--cfg", "job", "dataset=mnist").stdout
    out = run_cli("train", "--cfg", "job", "dataset=mnist", "likelihood=gaussian").stdout
    assert "name: gaussian" in out


def test_train_help_names_groups():
    out = run_cli("train", "--help").stdout
    assert "aecli train" in out
    assert "dataset: damped_oscillation, lines, mnist, variance_mnist" in out
    assert "model: conv, linear, mlp" in out


@pytest.mark.parametrize("command", ["evaluate", "visualize-latents"])
def test_run_commands_show_help_and_refuse_a_missing_run_in_one_line(command, tmp_path):
    assert "run: ???" in run_cli(command, "--help").stdout
    result = run_cli(command, f"run={tmp_path / 'nowhere'}", check=False, cwd=tmp_path)
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
        (["trainer.epochs=-3"], "trainer.epochs must be a positive integer, got -3"),
        (["seed=abc"], "seed must be an integer like its default 0, got 'abc'"),
        (["trainer.lr=fast"], "trainer.lr must be a number like its default 0.001, got 'fast'"),
        (["trainer.epochs=2.5"], "trainer.epochs must be an integer like its default 30, got 2.5"),
        (["dataset.noise_std=high"], "dataset.noise_std must be a number like its default 0.0, got 'high'"),
        (["model.hidden_dims=64"], "model.hidden_dims must be a list like its default [100, 100], got 64"),
        (["tsne.enabled=maybe"], "tsne.enabled must be true or false like its default true, got 'maybe'"),
        (["tsne.perplexity=-1"], "tsne.perplexity must be a number > 0, got -1"),
        (["trainer.progress=sometimes"], "trainer.progress must be auto, true or false"),
        (["regularizer=denoising", "regularizer.denoising.level=abc"], "regularizer.denoising.level must be a number or null"),
    ],
)
def test_user_errors_are_one_line_without_traceback(overrides, message, tmp_path):
    result = run_cli("train", *overrides, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()  # the failed run leaves no run directory behind


def test_unknown_option_names_the_valid_choices(tmp_path):
    result = run_cli("train", "model=transformer", cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert "Available options in 'model'" in result.stderr
    assert "mlp" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_key_is_named_without_traceback(tmp_path):
    result = run_cli("train", "trainer.epoch=3", cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert "Could not override 'trainer.epoch'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "outputs").exists()


def test_corrupted_mnist_file_is_one_line_through_the_command(tmp_path):
    from conftest import write_fake_mnist

    raw = tmp_path / "data" / "MNIST" / "raw"
    write_fake_mnist(raw, gz=False)
    labels = raw / "train-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-7])  # truncated
    before = labels.read_bytes()
    result = run_cli(
        "train", "dataset=mnist", f"data.root={tmp_path / 'data'}", "dataset.val_size=10",
        f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path, check=False,
    )
    assert result.returncode == 2
    assert "train-labels-idx1-ubyte is not a valid IDX file" in result.stderr
    assert "truncated or corrupted" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert labels.read_bytes() == before
    assert not (tmp_path / "run").exists()  # nothing but Hydra's files were there: removed
