"""What stops the training loop early: a stop signal, and a loss that is no longer finite."""

from __future__ import annotations

import math
import signal
import threading
from types import FrameType
from typing import Any

import torch
from torch import Tensor

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GracefulStop:
    """While active, SIGINT and SIGTERM only set `signum`; the loop finishes its step,
    writes last.pt and stops. A second signal stops at once (KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            self._previous = {sig: signal.signal(sig, self._handle) for sig in SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""


class FiniteGuard:
    """Notes, on the device, the first step at which each loss term stops being finite.

    `observe` adds a few tiny tensor operations per step and never waits for the device;
    `first_failure` reads the record back once (per epoch, or before a checkpoint).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._names: list[str] = []
        self._first_step: Tensor | None = None  # per term: first non-finite step, 0 while finite
        self._value: Tensor | None = None  # per term: its value at that step

    def observe(self, step: int, names: list[str], values: Tensor) -> None:
        """`values`: the step's loss terms stacked in the order of `names`, shape (len(names),)."""
        values = values.detach()
        if self._first_step is None:
            self._names = list(names)
            self._first_step = torch.zeros(len(values), dtype=torch.long, device=values.device)
            self._value = torch.zeros_like(values)
        new = ~torch.isfinite(values) & (self._first_step == 0)
        self._first_step = torch.where(new, step, self._first_step)
        self._value = torch.where(new, values, self._value)

    def first_failure(self) -> tuple[int, str, float] | None:
        """(step, term, value) of the earliest non-finite term, or None. Among terms that
        failed together the sum "total" is named last: the others say where it came from."""
        if self._first_step is None:
            return None
        steps, values = self._first_step.tolist(), self._value.tolist()
        failed = [(step, name == "total", name, value) for step, name, value in zip(steps, self._names, values) if step]
        if not failed:
            return None
        step, _, name, value = min(failed)
        return step, name, value


def non_finite(values: dict[str, float]) -> tuple[str, float] | None:
    """The first of `values` (say a validation split's loss terms) that is not finite."""
    for name, value in values.items():
        if not math.isfinite(value):
            return name, value
    return None
