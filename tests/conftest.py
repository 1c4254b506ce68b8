"""Shared fixtures: the real `aecli` command, tiny run settings and the shared MNIST copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The canonical MNIST files live beside the checkout (read-only); tests that need them skip without them.
MNIST_ROOT = Path(os.environ.get("AECLI_TEST_MNIST_ROOT", REPO.parent / "shared" / "data"))

# Small, fast settings for end-to-end runs on the synthetic sets.
TINY = ["dataset.num_samples=400", "trainer.epochs=2", "tsne.num_points=60", "log.reconstructions_every=1"]


def aecli_command() -> list[str]:
    """The installed console script (the thing users run), else `python -m aecli`."""
    script = Path(sys.executable).with_name("aecli")
    if script.exists():
        return [str(script)]
    found = shutil.which("aecli")
    return [found] if found else [sys.executable, "-m", "aecli"]


def run_aecli(*args: str, cwd: Path | None = None, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = os.environ | {"PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"} | (env or {})
    result = subprocess.run(
        [*aecli_command(), *args], cwd=cwd, capture_output=True, text=True, env=full_env, timeout=600
    )
    if check and result.returncode != 0:
        raise AssertionError(f"aecli {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def mnist_root() -> Path:
    if not (MNIST_ROOT / "MNIST" / "raw").is_dir():
        pytest.skip(f"MNIST files not found under {MNIST_ROOT}/MNIST/raw")
    return MNIST_ROOT


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """`make(*overrides, copy_to=DIR)`: train a tiny run once per session for each set of
    overrides, and hand out a fresh copy of its directory, so a test may change it freely."""
    cache: dict[tuple[str, ...], Path] = {}

    def make(*overrides: str, copy_to: Path) -> Path:
        if overrides not in cache:
            base = tmp_path_factory.mktemp("trained")
            run_aecli("train", *overrides, f"hydra.run.dir={base / 'run'}", cwd=base)
            cache[overrides] = base / "run"
        shutil.copytree(cache[overrides], copy_to)
        return copy_to

    return make
