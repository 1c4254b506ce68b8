"""Every run records what made it: the hash of the config it was composed from and of the config
it saved (place keys left out), the same without keys at their old values (settings hashes), and
the versions of aecli, torch and Python; a resume keeps the composed hashes while it changes nothing
but place keys."""

from __future__ import annotations

import json
import platform

import torch
from omegaconf import OmegaConf

from aecli.runs.provenance import KEPT, PLACE_KEYS, config_hash, made_by, settings_hash
from conftest import TINY, run_cli


def test_the_hash_ignores_order_and_where_the_run_happens_but_not_what_it_computes():
    cfg = OmegaConf.create({"seed": 0, "trainer": {"lr": 0.001, "device": "cpu", "num_threads": 1, "progress": "auto"},
                            "data": {"root": "/a", "download": False}, "claim": {"text": "x"}})
    same = OmegaConf.create({"data": {"download": True, "root": "/elsewhere"}, "claim": {"text": "other words"},
                             "trainer": {"progress": False, "num_threads": 8, "device": "cuda", "lr": 0.001}, "seed": 0})
    assert config_hash(cfg) == config_hash(same) and len(config_hash(cfg)) == 16
    assert config_hash(cfg) != config_hash(OmegaConf.merge(cfg, {"trainer": {"lr": 0.002}}))
    assert {"data.root", "trainer.device", "trainer.num_threads", "trainer.progress", "resume", "trust_code"} <= set(PLACE_KEYS)


def test_a_resume_keeps_the_composed_hash_only_while_it_changes_nothing_that_computes():
    settled = OmegaConf.create({"trainer": {"epochs": 2, "device": "cpu"}})
    first = made_by(settled, {"config_hash": "composed-hash", "settings_hash": "composed-settings"}, {})
    assert first["config_hash"] == "composed-hash" and first["saved_config_hash"] == config_hash(settled)
    assert first["settings_hash"] == "composed-settings" and first["saved_settings_hash"] == settings_hash(settled)
    moved = OmegaConf.merge(settled, {"trainer": {"device": "cuda"}})
    assert made_by(moved, None, first)["config_hash"] == "composed-hash"
    longer = OmegaConf.merge(settled, {"trainer": {"epochs": 5}})
    assert made_by(longer, None, first)["config_hash"] == config_hash(longer) != "composed-hash"


def test_a_key_added_later_at_its_old_value_changes_the_config_hash_but_not_the_settings_hash():
    """A run composed before model.conditional existed and one composed after it, at false (its
    old value), have the same settings; at true they do not."""
    from hydra import compose, initialize_config_module

    with initialize_config_module("aecli.configs", version_base="1.3"):
        now = compose("train", overrides=["model=mlp"])
    before = OmegaConf.masked_copy(now, [key for key in now if key != "model"])
    before.model = OmegaConf.masked_copy(now.model, [key for key in now.model if key != "conditional"])
    assert config_hash(before) != config_hash(now) and settings_hash(before) == settings_hash(now)
    assert settings_hash(OmegaConf.merge(now, {"model": {"conditional": True}})) != settings_hash(now)


def test_a_run_name_changes_neither_hash_so_results_runs_stay_current():
    """name= names the run's folder, not what it computes; a run from before the key hashes the same."""
    from hydra import compose, initialize_config_module

    with initialize_config_module("aecli.configs", version_base="1.3"):
        now, named = compose("train"), compose("train", overrides=["name=mine"])
    before = OmegaConf.masked_copy(now, [key for key in now if key != "name"])
    assert config_hash(before) == config_hash(now) == config_hash(named)
    assert settings_hash(before) == settings_hash(now) == settings_hash(named)


def test_a_run_records_what_made_it_and_keeps_it_across_a_resume(trained_run, tmp_path):
    run = trained_run(*TINY, "tsne.enabled=false", copy_to=tmp_path / "run")
    recorded = json.loads((run / "metrics.json").read_text())
    assert recorded["torch_version"] == torch.__version__ and recorded["python_version"] == platform.python_version()
    assert recorded["aecli_version"] and "git_revision" in recorded
    assert recorded["saved_config_hash"] == config_hash(OmegaConf.load(run / ".hydra" / "config.yaml"))
    last = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert last["train_state"]["made_by"] == {key: recorded[key] for key in KEPT}
    assert recorded["saved_settings_hash"] == settings_hash(OmegaConf.load(run / ".hydra" / "config.yaml"))
    run_cli("train", f"resume={run}", "trainer.epochs=3", "trainer.device=cpu")
    resumed = json.loads((run / "metrics.json").read_text())
    assert resumed["config_hash"] != recorded["config_hash"]  # three epochs is another run than the two composed
    assert resumed["saved_config_hash"] == config_hash(OmegaConf.load(run / ".hydra" / "config.yaml"))
