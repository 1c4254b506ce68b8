"""The `aecli` entry point: instant help, dispatch, Hydra flags and one-line user errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hydra import initialize_config_module
from omegaconf import OmegaConf

from aecli.errors import UserError
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
    assert "dataset: array, cifar10, csv, damped_oscillation, digits, fashion_mnist, image_folder, kmnist, lines, mnist, variance_mnist" in out
    assert "model: conv, linear, mlp" in out


@pytest.mark.parametrize("command", ["evaluate", "visualize-latents"])
def test_run_commands_show_help_and_refuse_a_missing_run_in_one_line(command, tmp_path):
    assert "  run = ???  " in run_cli(command, "--help").stdout  # one line per key (tests/test_help.py)
    result = run_cli(command, f"run={tmp_path / 'nowhere'}", check=False, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"aecli {command}: error: run directory {tmp_path / 'nowhere'} does not exist; "
        f"pass run=DIR, a directory written by aecli train, run=latest or run=NAME"
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
        (["trainer.epochs=-3"], "trainer.epochs must be a positive integer, or null (auto), got -3"),
        (["seed=abc"], "seed must be an integer like its default 0, got 'abc'"),
        (["trainer.lr=fast"], "trainer.lr must be a number like its default 0.001, got 'fast'"),
        (["trainer.batch_size=2.5"], "trainer.batch_size must be an integer like its default 128, got 2.5"),
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


def one_line(result, code: int = 2) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["model=transformer"], "aecli train: error: unknown model 'transformer'; choose one of conv, linear, mlp, sparse_coding"),
        (["model=mpl"], "unknown model 'mpl'; did you mean model=mlp?"),
        (["trainer.epoch=3"], "trainer.epoch is not a key of the config; did you mean trainer.epochs?"),
        (["+trainer.epoch=3"], "trainer.epoch is not a key of the config, so +trainer.epoch would be ignored; did you mean trainer.epochs?"),
        (["trainer.epochs=[1"], "no viable alternative at input '[1'"),
        (["resume=/some/dir", "-m"], "resume continues one run in its own folder; drop -m"),
    ],
)
def test_hydra_level_user_errors_are_one_line_exit_2_with_the_nearest_key(args, message, tmp_path):
    result = run_cli("train", *args, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path, check=False)
    assert message in one_line(result)
    assert "hydra.output_subdir" not in result.stderr  # nothing the user did not type
    assert not (tmp_path / "run").exists() and not (tmp_path / "outputs").exists()


def test_added_keys_are_refused_except_under_a_users_own_target_option(monkeypatch):
    """+key may add to a user's `_target_` option (whose keys are the user's own), nowhere else."""
    from aecli.config import compose as validate

    composed = OmegaConf.create({"trainer": {"epochs": 3}, "model": {"_target_": "mine.build", "width": 3}})
    monkeypatch.setattr(validate, "reference_config", lambda name, choices: composed)
    validate.refuse_added_keys(["+trainer.epochs=3", "+model.depth=2"], lambda key: False, "train")
    with pytest.raises(UserError, match=r"trainer.epoch is not a key .*did you mean trainer.epochs\?"):
        validate.refuse_added_keys(["+trainer.epoch=3"], lambda key: False, "train")


def test_broken_yaml_in_a_users_config_folder_is_one_line_with_file_and_line(tmp_path):
    (tmp_path / "mycfg" / "model").mkdir(parents=True)
    broken = tmp_path / "mycfg" / "model" / "broken.yaml"
    broken.write_text("name: mlp\nhidden_dims: [100, 100\nlatent_dim: 2\n")
    result = run_cli("train", "-cd", str(tmp_path / "mycfg"), "model=broken", f"hydra.run.dir={tmp_path / 'run'}",
                     cwd=tmp_path, check=False)
    assert f"{broken}, line 3, column 11: expected ',' or ']'" in one_line(result)


@pytest.mark.parametrize(
    "args", [["evaluate"], ["visualize-latents"], ["evaluate", "run=null"], ["encode", "split=test", "output=codes.npy"]]
)
def test_run_commands_without_run_say_how_to_give_it(args, tmp_path):
    command = args[0]
    result = run_cli(*args, cwd=tmp_path, check=False)
    assert f"aecli {command}: error: run is required: pass run=RUN_DIR, a directory written by aecli train" in one_line(result)


def test_omegaconf_and_hydra_still_set_what_the_messages_read(tmp_path):
    """hydra_errors reads `missing_cfg_file`/`options` of Hydra's MissingConfigException and
    `full_key`/`parent_node` of OmegaConf's key error: fail loudly if a release drops them."""
    from hydra import compose
    from hydra.errors import ConfigCompositionException, MissingConfigException

    with initialize_config_module("aecli.configs", version_base="1.3"):
        with pytest.raises(MissingConfigException) as missing:
            compose("train", overrides=["model=transformer"])
        with pytest.raises(ConfigCompositionException) as unknown:
            compose("train", overrides=["trainer.epoch=3"])
    assert missing.value.missing_cfg_file == "model/transformer" and "mlp" in missing.value.options
    assert unknown.value.__cause__.full_key == "trainer.epoch"
    assert "epochs" in unknown.value.__cause__.parent_node


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
