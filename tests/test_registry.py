"""One registry shape for every family: options are discovered from their modules, declare their
settings, and a user's own class plugs in from their own config folder with `_target_`."""

from __future__ import annotations

import json
import textwrap

import pytest
from omegaconf import OmegaConf

from aecli.data import DATASETS
from aecli.errors import UserError
from aecli.likelihoods import LIKELIHOODS
from aecli.models import MODELS
from aecli.regularizers import REGULARIZERS
from conftest import REPO, TINY, run_cli


@pytest.mark.parametrize("registry, group", [(DATASETS, "dataset"), (MODELS, "model"), (LIKELIHOODS, "likelihood"),
                                             (REGULARIZERS, "regularizer")])
def test_every_shipped_yaml_option_is_a_registered_option_and_back(registry, group):
    shipped = {path.stem for path in (REPO / "configs" / group).glob("*.yaml")}
    assert shipped == set(registry.names)


@pytest.mark.parametrize("registry, group", [(DATASETS, "dataset"), (MODELS, "model"), (LIKELIHOODS, "likelihood"),
                                             (REGULARIZERS, "regularizer")])
def test_every_key_of_a_shipped_option_is_declared(registry, group):
    for path in (REPO / "configs" / group).glob("*.yaml"):
        keys = {key for key in OmegaConf.load(path) if key not in ("name", "defaults")}
        declared = set(registry.option(path.stem).settings)
        undeclared = keys - declared - {"layer"}  # sparse penalties check `layer` against the model
        assert not undeclared, f"{path.name}: {sorted(undeclared)} have no declaration"


def yaml_keys(node, prefix=""):
    """The dotted keys of a config's leaves (a list is one leaf)."""
    keys = set()
    for key, value in node.items():
        if isinstance(value, dict) and value:
            keys |= yaml_keys(value, f"{prefix}{key}.")
        else:
            keys.add(f"{prefix}{key}")
    return keys


@pytest.mark.parametrize("command", ["train", "evaluate", "encode", "visualize_latents", "finetune"])
def test_every_key_of_a_commands_yaml_is_declared_and_every_declaration_has_its_yaml_line(command):
    """One declaration per setting: a command's YAML gives each key its default and help line,
    aecli.config.keys its check (and the key list a command owns, derived from it)."""
    from aecli.config import keys

    declared = {"train": keys.TRAIN, "evaluate": keys.EVALUATE, "encode": keys.ENCODE,
                "visualize_latents": keys.VISUALIZE_LATENTS, "finetune": keys.FINETUNE}[command]
    settings = OmegaConf.to_container(keys.shipped_settings(command))
    groups = {"dataset", "model", "likelihood", "regularizer"} if command == "train" else set()
    in_yaml = {key for key in yaml_keys(settings) if key.split(".")[0] not in groups}
    run_settings = set() if command == "train" else {key for key in keys.RUN_SETTINGS if key in in_yaml}
    assert in_yaml - run_settings == set(declared), f"configs/{command}.yaml and aecli/config/keys.py disagree"
    assert all(settings[key.split(".")[0]][key.split(".")[1]] is None for key in run_settings)  # null: the run's own


def test_an_unknown_option_names_the_choices():
    with pytest.raises(UserError, match="likelihood=laplace is not available; choose one of auto, bernoulli, gaussian"):
        LIKELIHOODS.build(OmegaConf.create({"name": "laplace"}))


def test_a_declared_setting_is_checked_when_the_option_is_built():
    with pytest.raises(UserError, match="likelihood.sigma must be a number > 0, got -1.0"):
        LIKELIHOODS.build(OmegaConf.create({"name": "gaussian", "sigma": -1.0}))


USER_MODEL = '''
"""A user's own architecture, kept beside their configs."""
from torch import nn

from aecli.models import Autoencoder


class TinyAutoencoder(Autoencoder):
    def __init__(self, cfg, sample_shape, outputs_per_dim, bottleneck):
        width = sample_shape[0]
        encoder = nn.Sequential(nn.Linear(width, cfg.width), nn.Tanh(), nn.Linear(cfg.width, cfg.latent_dim * bottleneck.outputs_per_latent))
        decoder = nn.Sequential(nn.Linear(cfg.latent_dim, width * outputs_per_dim))
        super().__init__(encoder, decoder, cfg.latent_dim, sample_shape, outputs_per_dim, bottleneck)
'''


def test_a_users_own_model_plugs_in_from_their_config_folder(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(textwrap.dedent(USER_MODEL))
    monkeypatch.syspath_prepend(str(tmp_path))  # PYTHONPATH=. (aecli itself adds no folder to the path)
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "tiny.yaml").write_text("name: tiny\n_target_: my_models.TinyAutoencoder\nwidth: 16\nlatent_dim: 2\n")
    run_dir = tmp_path / "run"

    result = run_cli("train", "-cd", str(tmp_path / "conf"), "model=tiny", *TINY, "tsne.enabled=false",
                     f"hydra.run.dir={run_dir}", cwd=tmp_path)

    assert "model=tiny" in result.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["num_parameters"] == 50 * 16 + 16 + 16 * 2 + 2 + 2 * 50 + 50
    refused = run_cli("evaluate", f"run={run_dir}", cwd=tmp_path, check=False)  # a run folder is data ...
    assert refused.returncode == 2 and "model._target_=my_models.TinyAutoencoder" in refused.stderr
    assert "trust_code=true" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    evaluated = run_cli("evaluate", f"run={run_dir}", "trust_code=true", cwd=tmp_path)  # ... unless trusted
    assert "recon_sse" in evaluated.stdout


def test_a_target_that_cannot_be_imported_is_one_line(tmp_path):
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "ghost.yaml").write_text("name: ghost\n_target_: nowhere_module.Ghost\nlatent_dim: 2\n")
    result = run_cli("train", "-cd", str(tmp_path / "conf"), "model=ghost", *TINY, f"hydra.run.dir={tmp_path / 'run'}",
                     cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "model._target_=nowhere_module.Ghost: cannot import nowhere_module" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
