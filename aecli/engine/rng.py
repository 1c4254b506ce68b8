"""Every random generator the training loop may draw from, captured into last.pt and
restored on resume: torch's CPU generator, CUDA's and MPS's when in use, Python's and
NumPy's. So batch order, corruption noise and VAE samples continue the same sequence, and a
resumed run ends where an uninterrupted one would."""

from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import torch


def capture_rng() -> dict[str, Any]:
    """The state of every generator training may draw from, as plain tensors and numbers."""
    version, mt_state, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": [version, list(mt_state), gauss],
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
    }
    if torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    version, mt_state, gauss = state["python"]
    random.setstate((version, tuple(mt_state), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.cpu().numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        states = state["cuda"][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all([s.cpu() for s in states])
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"].cpu())


@contextmanager
def seeded_draws(seed: int) -> Iterator[None]:
    """Draws inside come from every generator seeded with `seed` (the same draws each time); on
    exit every generator is back where it was, so the training sequence outside is untouched
    (a resumed run stays bit-exact)."""
    state = capture_rng()
    torch.manual_seed(seed)
    try:
        yield
    finally:
        restore_rng(state)
