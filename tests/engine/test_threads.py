"""The CPU thread count follows the work when trainer.num_threads is null."""

from __future__ import annotations

import os

import torch

from aecli.engine import device as device_module
from aecli.engine.device import SMALL_MODEL, choose_threads

CPU = torch.device("cpu")


def test_an_explicit_thread_count_wins():
    assert choose_threads(3, 10, CPU) == (3, "trainer.num_threads")


def test_a_small_model_gets_one_thread():
    threads, why = choose_threads(None, 30_852, CPU)
    assert threads == 1 and "30,852 parameters" in why


def test_a_large_model_gets_the_idle_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    monkeypatch.setattr(os, "getloadavg", lambda: (5.2, 0.0, 0.0))
    assert choose_threads(None, SMALL_MODEL, CPU)[0] == 3
    monkeypatch.setattr(os, "getloadavg", lambda: (30.0, 0.0, 0.0))
    assert choose_threads(None, 10 * SMALL_MODEL, CPU)[0] == 1  # never fewer than one
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert choose_threads(None, 10 * SMALL_MODEL, CPU)[0] == 8
    assert device_module._idle_cores() == 8
