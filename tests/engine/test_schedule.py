"""trainer.scheduler, warm-up, weight decay, gradient clipping and early stopping."""

from __future__ import annotations

import json
import math

import pytest
import torch
from omegaconf import OmegaConf

from aecli.engine.curves import LEARNING_RATE
from aecli.runs.config import migrate
from aecli.engine.schedule import Schedule, early_stop_reason
from conftest import events, run_cli, train_in_process

TRAINER = {"lr": 1.0, "epochs": 10, "warmup_epochs": 0, "step_size": 3, "gamma": 0.5, "decay_fraction": 0.2}


def schedule(kind: str, **changes) -> Schedule:
    return Schedule.from_config(OmegaConf.create({**TRAINER, "scheduler": kind, **changes}))


def test_the_schedules_follow_their_closed_forms():
    assert [schedule("none").lr_at(e) for e in (1, 5, 10)] == [1.0, 1.0, 1.0]
    assert [schedule("step").lr_at(e) for e in range(1, 8)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    cosine = schedule("cosine")
    assert cosine.lr_at(1) == 1.0 and cosine.lr_at(10) == pytest.approx(0.5 * (1 + math.cos(math.pi * 9 / 10)))
    warm = schedule("cosine", warmup_epochs=3)
    assert [warm.lr_at(e) for e in (1, 2, 3, 4)] == [0.25, 0.5, 0.75, 1.0]  # then the cosine over the 7 epochs left
    assert warm.lr_at(10) == pytest.approx(0.5 * (1 + math.cos(math.pi * 6 / 7)))


def test_wsd_holds_the_rate_then_decays_linearly_over_the_last_fraction():
    assert [schedule("wsd").lr_at(e) for e in range(1, 11)] == [1.0] * 8 + [0.75, 0.25]  # last 2 of 10 epochs
    assert [schedule("wsd", decay_fraction=0.5).lr_at(e) for e in (5, 6, 10)] == [1.0, 0.9, 0.1]
    assert [schedule("wsd", epochs=3).lr_at(e) for e in (1, 2, 3)] == [1.0, 1.0, 0.5]  # at least one epoch decays
    warm = schedule("wsd", warmup_epochs=5, decay_fraction=0.4)  # 2 of the 5 epochs after the warm-up
    assert [warm.lr_at(e) for e in (6, 8, 9, 10)] == [1.0, 1.0, 0.75, 0.25]


def test_the_default_schedule_is_wsd_and_old_runs_keep_a_constant_rate():
    from hydra import compose, initialize_config_module

    with initialize_config_module("aecli.configs", version_base="1.3"):
        trainer = compose("train").trainer
    assert trainer.scheduler == "wsd" and trainer.decay_fraction == 0.2
    old = migrate(OmegaConf.create({"trainer": {"epochs": 3}}))
    assert old.trainer.scheduler == "none"


def test_plateau_decays_after_step_size_epochs_without_improvement_and_resumes_its_state():
    plateau = schedule("plateau")
    for epoch, loss in enumerate([5, 4, 4, 4, 4], start=1):
        plateau.observe(epoch, loss)
    assert plateau.lr_at(6) == 0.5
    resumed = Schedule.from_config(OmegaConf.create({**TRAINER, "scheduler": "plateau"}), plateau.state())
    for epoch in (6, 7, 8):
        resumed.observe(epoch, 4.5)
    assert resumed.lr_at(9) == 0.25


def test_early_stopping_counts_epochs_after_the_best():
    assert early_stop_reason(None, 50, 1) is None
    assert early_stop_reason(3, 4, 2) is None
    assert "3 epochs after epoch 2" in early_stop_reason(3, 5, 2)


def test_old_run_configs_train_as_before():
    trainer = migrate(OmegaConf.create({"trainer": {"lr": 0.1}})).trainer
    assert trainer.scheduler == "none" and trainer.weight_decay is None and trainer.grad_clip is None
    assert trainer.patience is None and trainer.warmup_epochs == 0


def test_a_run_logs_its_rate_stops_early_and_says_why(tmp_path):
    run = tmp_path / "run"
    overrides = ["dataset.num_samples=120", "trainer.epochs=40", "trainer.lr=0.5", "trainer.patience=2", "trainer.scheduler=step",
                 "trainer.step_size=1", "trainer.gamma=0.5", "trainer.grad_clip=0.1", "trainer.weight_decay=0.01",
                 "tsne.enabled=false", "trainer.num_threads=1"]
    train_in_process(overrides, run)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["stop_reason"].startswith("early stopping") and metrics["epochs"] < 40
    assert metrics["epochs"] == metrics["best_epoch"] + 2
    rates = [event.value for event in events(run).Scalars(LEARNING_RATE)]
    assert rates == pytest.approx([0.5 * 0.5**k for k in range(metrics["epochs"])])
    optimizer = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["optimizer"]
    assert optimizer["param_groups"][0]["weight_decay"] == 0.01
    refused = run_cli("train", f"resume={run}", check=False, cwd=tmp_path)
    assert refused.returncode == 2 and "trainer.patience=null" in refused.stderr


def test_a_resumed_run_continues_the_schedule(tmp_path):
    common = ["dataset.num_samples=120", "trainer.scheduler=plateau", "trainer.step_size=1", "trainer.lr=0.5",
              "trainer.gamma=0.5", "tsne.enabled=false", "trainer.num_threads=1", "trainer.epochs=6"]
    train_in_process([*common], tmp_path / "whole")
    train_in_process([*common[:-1], "trainer.epochs=2"], tmp_path / "part")
    cfg = OmegaConf.load(tmp_path / "part" / ".hydra" / "config.yaml")
    assert cfg.trainer.epochs == 2
    run_cli("train", f"resume={tmp_path / 'part'}", "trainer.epochs=6", cwd=tmp_path)
    whole = [e.value for e in events(tmp_path / "whole").Scalars(LEARNING_RATE)]
    resumed = [e.value for e in events(tmp_path / "part").Scalars(LEARNING_RATE)]
    assert min(whole) < 0.5  # the plateau decayed at least once
    assert resumed == pytest.approx(whole)


def test_the_iwae_schedule_runs_3_to_the_i_epochs_at_each_of_its_8_rates():
    from collections import Counter

    from aecli.engine.schedule import Schedule

    schedule = Schedule("iwae", 1e-3, 3280)
    epochs_per_rate = Counter(round(schedule.lr_at(epoch), 12) for epoch in range(1, 3281))
    expected = {round(1e-3 * 10 ** (-i / 7), 12): 3**i for i in range(8)}
    assert dict(epochs_per_rate) == expected
    assert schedule.lr_at(5000) == pytest.approx(1e-4)  # past the schedule: its last rate
