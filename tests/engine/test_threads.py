"""The CPU thread count follows the work when trainer.num_threads is null, deterministically: torch's
own default, one thread for a small step, never the load average (which only adds advice)."""

from __future__ import annotations

import os

import torch

from aecli.engine.device import SMALL_STEP, busy_advice, choose_threads

CPU = torch.device("cpu")


def test_an_explicit_thread_count_wins():
    assert choose_threads(3, 10, 128, CPU) == (3, "trainer.num_threads")


def test_a_small_step_gets_one_thread():
    threads, why = choose_threads(None, 30_852, 128, CPU)
    assert threads == 1 and "30,852 parameters x batch 128" in why


def test_a_large_step_gets_torchs_default_whatever_the_load(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    for load in (0.0, 5.2, 30.0):
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, 0.0, 0.0))
        assert choose_threads(None, SMALL_STEP // 128, 128, CPU)[0] == 8
    assert choose_threads(None, SMALL_STEP // 128, 64, CPU)[0] == 1  # the same model in smaller batches


def test_a_busy_machine_gets_advice_not_fewer_threads(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (3.1, 0.0, 0.0))
    assert "busy (load 3.1 on 2 cores)" in busy_advice(2) and "trainer.num_threads=1" in busy_advice(2)
    assert busy_advice(1) is None
    monkeypatch.setattr(os, "getloadavg", lambda: (0.6, 0.0, 0.0))  # aecli's own start, not other work
    assert busy_advice(2) is None
    monkeypatch.setattr(os, "getloadavg", lambda: (1.4, 0.0, 0.0))
    assert busy_advice(2) is not None


def test_precision_auto_picks_bf16_only_where_it_was_measured_to_pay(monkeypatch):
    from aecli import private_apis
    from aecli.engine.device import BF16_STEP, choose_precision

    big = BF16_STEP // 128
    assert choose_precision("bf16", 10, 128, CPU) == ("bf16", "trainer.precision=bf16")
    monkeypatch.setattr(private_apis, "cpu_has_bf16", lambda: False)
    assert choose_precision("auto", big, 128, CPU)[0] == "fp32"
    monkeypatch.setattr(private_apis, "cpu_has_bf16", lambda: True)
    assert choose_precision("auto", big, 128, CPU)[0] == "bf16"
    assert choose_precision("auto", big // 2, 128, CPU)[0] == "fp32"
    precision, why = choose_precision("auto", big, 128, torch.device("cuda"))
    assert precision == "fp32" and "not measured on cuda" in why


def test_building_a_run_flushes_denormals_and_records_an_automatic_precision(monkeypatch):
    from hydra import compose, initialize_config_module

    from aecli import private_apis
    from aecli.engine.experiment import build_experiment

    monkeypatch.setattr(private_apis, "cpu_has_bf16", lambda: True)
    with initialize_config_module("aecli.configs", version_base="1.3"):
        cfg = compose("train", ["dataset.num_samples=100", "model.hidden_dims=[8000]", "trainer.precision=auto"])
    torch.set_flush_denormal(False)
    experiment = build_experiment(cfg, CPU)
    assert (torch.tensor([1e-39]) * 1.0).item() == 0.0  # a denormal result flushed to zero
    assert cfg.trainer.precision == "bf16" and any(line.startswith("trainer.precision=bf16 (auto:") for line in experiment.brought)
