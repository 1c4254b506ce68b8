"""`aecli COMMAND --help`: one line per key with its value and help line, grouped as the configs
are; a `--flag` that should have been key=value gets the key it meant."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from aecli.config import keys
from aecli.config.yaml_lines import key_comments
from conftest import REPO, run_cli


def key_line(out: str, key: str) -> str:
    found = [line for line in out.splitlines() if line.startswith(f"  {key} = ")]
    assert len(found) == 1, f"{key}: {found}"
    return found[0]


def test_train_help_gives_each_key_its_value_and_meaning_grouped_like_the_configs():
    out = run_cli("train", "--help").stdout
    assert re.match(r"  trainer\.epochs = null +passes over the training split; null \(auto\): 30, or more", key_line(out, "trainer.epochs"))
    assert re.match(r"  model\.latent_dim = 2 +the size of the code$", key_line(out, "model.latent_dim"))
    assert "model: conv, linear, mlp, sparse_coding" in out  # the groups and their options
    assert out.index("dataset=lines") < out.index("  dataset.num_points = 50") < out.index("model=mlp")
    assert out.index("\ntrainer\n") < out.index("  trainer.lr = 0.001") < out.index("\ntsne\n")
    assert "--cfg job" in out and "data:\n  root:" not in out  # no YAML dump; --cfg job gives it
    assert len(out.splitlines()) < 110


def test_train_help_follows_the_options_and_overrides_chosen():
    out = run_cli("train", "model=conv", "regularizer=[vae,denoising]", "trainer.epochs=7", "--help").stdout
    assert key_line(out, "trainer.epochs").startswith("  trainer.epochs = 7 ")
    assert "  model.channels = [32, 64]" in out and "model.hidden_dims" not in out
    assert "beta-VAE" in key_line(out, "regularizer.vae.beta")
    assert "literature default" in key_line(out, "regularizer.denoising.level")


def test_run_commands_list_their_own_keys_and_the_run_settings():
    out = run_cli("encode", "--help").stdout
    assert re.match(r"  run = \?\?\? +a directory written by aecli train", key_line(out, "run"))
    assert key_line(out, "split").startswith("  split = null ")
    assert "the run's own settings" in out and key_line(out, "trainer.device")
    assert "probe.knn_k" in run_cli("evaluate", "--help").stdout


@pytest.mark.parametrize("command", ["train", "evaluate", "encode", "visualize_latents", "finetune"])
def test_every_declared_key_has_a_help_line_in_its_yaml(command):
    comments = key_comments((REPO / "configs" / f"{command}.yaml").read_text())
    assert not [key for key in keys.COMMAND_KEYS[command] if not comments.get(key)]


@pytest.mark.parametrize("group", ["dataset", "model", "regularizer", "likelihood"])
def test_every_key_of_a_shipped_option_has_a_help_line(group):
    for path in (REPO / "configs" / group).glob("*.yaml"):
        comments = key_comments(path.read_text(), group)
        missing = [key for key, text in comments.items() if not text and not key.endswith(".name")]
        assert not missing, f"{path.name}: {missing}"


def test_help_lines_read_continued_comments_and_quoted_hashes():
    text = 'a:\n  b: 1   # first\n         # second\nc: "#x"  # third\nd: 2\n  # not d\n'
    assert key_comments(text) == {"a": "", "a.b": "first second", "c": "third", "d": ""}
    assert key_comments("# @package regularizer.vae\nbeta: 1.0  # weight\n") == {"regularizer.vae.beta": "weight"}


def test_train_help_is_still_torch_free():
    code = ("import sys\nfrom aecli.cli import main\nmain(['train', '--help'])\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "trainer.epochs = null" in result.stdout


@pytest.mark.parametrize("args, line", [
    (["train", "--epochs", "5"], "aecli train: error: unknown flag --epochs; settings are key=value, e.g. trainer.epochs=5"),
    (["train", "--batch-size=64"], "unknown flag --batch-size; settings are key=value, e.g. trainer.batch_size=64"),
    (["train", "-m", "--latent_dim", "3"], "unknown flag --latent_dim; settings are key=value, e.g. model.latent_dim=3"),
    (["train", "--model", "conv"], "unknown flag --model; settings are key=value, e.g. model=conv"),
    (["train", "--epoch"], "unknown flag --epoch; settings are key=value, e.g. trainer.epochs=N"),
    (["evaluate", "--knn_k", "3"], "unknown flag --knn_k; settings are key=value, e.g. probe.knn_k=3"),
    (["train", "--verbose"], "unknown flag --verbose; settings are key=value (e.g. seed=1); aecli train --help lists every key"),
])
def test_a_flag_that_should_be_key_value_says_which_key(args, line):
    result = run_cli(*args, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(line) and len(result.stderr.strip().splitlines()) == 1
    assert "usage:" not in result.stderr + result.stdout


def test_hydras_own_flags_are_still_flags():
    out = run_cli("train", "--cfg", "job", "--resolve", "trainer.epochs=3").stdout
    assert OmegaConf.create(out).trainer.epochs == 3


def test_a_key_typed_without_its_node_names_the_full_key(tmp_path):
    result = run_cli("train", "epochs=5", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path, check=False)
    assert result.returncode == 2 and "did you mean trainer.epochs?" in result.stderr
