"""Every run records what made it: the hash of the config it was composed from and of the config
it saved (place keys left out), and the versions of aecli, torch and Python; a resume keeps the
composed hash while it changes nothing but place keys."""

from __future__ import annotations

import json
import platform

import torch
from omegaconf import OmegaConf

from aecli.runs.provenance import PLACE_KEYS, config_hash, made_by
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
    first = made_by(settled, "composed-hash", {})
    assert first["config_hash"] == "composed-hash" and first["saved_config_hash"] == config_hash(settled)
    moved = OmegaConf.merge(settled, {"trainer": {"device": "cuda"}})
    assert made_by(moved, None, first)["config_hash"] == "composed-hash"
    longer = OmegaConf.merge(settled, {"trainer": {"epochs": 5}})
    assert made_by(longer, None, first)["config_hash"] == config_hash(longer) != "composed-hash"


def test_a_run_records_what_made_it_and_keeps_it_across_a_resume(trained_run, tmp_path):
    run = trained_run(*TINY, "tsne.enabled=false", copy_to=tmp_path / "run")
    recorded = json.loads((run / "metrics.json").read_text())
    assert recorded["torch_version"] == torch.__version__ and recorded["python_version"] == platform.python_version()
    assert recorded["aecli_version"] and "git_revision" in recorded
    assert recorded["saved_config_hash"] == config_hash(OmegaConf.load(run / ".hydra" / "config.yaml"))
    last = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert last["train_state"]["made_by"] == {key: recorded[key] for key in ("config_hash", "saved_config_hash")}
    run_cli("train", f"resume={run}", "trainer.epochs=3", "trainer.device=cpu")
    resumed = json.loads((run / "metrics.json").read_text())
    assert resumed["config_hash"] != recorded["config_hash"]  # three epochs is another run than the two composed
    assert resumed["saved_config_hash"] == config_hash(OmegaConf.load(run / ".hydra" / "config.yaml"))
