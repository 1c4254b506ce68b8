"""Shared fixtures: the `aecli` entry point in-process and as a real process, tiny run settings
and the shared MNIST copy.

Most tests that read what a command prints call `run_cli`: the same entry function the console
script calls (`aecli.cli.main`), in this process, with its output captured and its exit code
returned. Only tests of the process itself (signals, the console script, installs) start a
real `aecli` with `run_aecli`.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import logging
import os
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[1]
# The canonical MNIST files live beside the checkout (read-only), or wherever AECLI_TEST_MNIST_ROOT
# points (it holds MNIST/raw/); tests that need them skip without them, except in CI.
MNIST_ROOT = Path(os.environ.get("AECLI_TEST_MNIST_ROOT", REPO.parent / "shared" / "data"))
# CI (.ci/run) sets this: a test that backs a README guarantee (the MNIST tests, the full-disk and
# read-only-mount tests, which need the data, root and tmpfs) fails instead of skipping.
REQUIRE_GUARANTEES = "AECLI_REQUIRE_GUARANTEES"


def skip_guarantee(reason: str) -> None:
    """Skip a test that backs a guarantee where it cannot run here; in CI, fail instead."""
    if os.environ.get(REQUIRE_GUARANTEES) == "1":
        pytest.fail(f"a guarantee's test cannot run here ({reason}), and {REQUIRE_GUARANTEES}=1 says it must")
    pytest.skip(reason)

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
    """A real `aecli ARGS` process."""
    full_env = os.environ | {"PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"} | (env or {})
    result = subprocess.run(
        [*aecli_command(), *args], cwd=cwd, capture_output=True, text=True, env=full_env, timeout=600
    )
    if check and result.returncode != 0:
        raise AssertionError(f"aecli {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, check: bool = True, env: dict | None = None) -> CliResult:
    """`aecli ARGS` through its entry function in this process: the same Hydra app, checks,
    exit code and output as the console script, without starting Python, torch and Hydra
    again. Process-wide state the command touches (argv, cwd, environment, torch threads,
    logging handlers) is restored afterwards."""
    import torch

    from aecli.cli import main

    saved = (sys.argv[:], os.getcwd(), dict(os.environ), torch.get_num_threads(), logging.root.handlers[:])
    out, err = io.StringIO(), io.StringIO()
    os.environ.update({"MPLBACKEND": "Agg", **(env or {})})
    if cwd is not None:
        os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        argv, folder, environ, threads, handlers = saved
        sys.argv = argv
        os.chdir(folder)
        os.environ.clear()
        os.environ.update(environ)
        torch.set_num_threads(threads)
        for handler in logging.root.handlers[:]:
            if handler not in handlers:
                handler.close()
                logging.root.removeHandler(handler)
    result = CliResult(code, out.getvalue(), err.getvalue())
    if check and result.returncode != 0:
        raise AssertionError(f"aecli {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def train_in_process(overrides: list[str], run_dir: Path) -> float:
    """What `aecli train OVERRIDES hydra.run.dir=RUN_DIR` does, through `commands.train.train`
    with a composed config (no Hydra app, no run-folder guard)."""
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    from aecli.commands.launch import Launch
    from aecli.commands.train import train

    with initialize_config_module("aecli.configs", version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
        launch = Launch(run_dir=run_dir, overrides=list(overrides), save_config_to=run_dir / ".hydra" / "config.yaml",
                        groups=set(cfg.hydra.runtime.choices))
        task_cfg = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
        return train(task_cfg, launch)


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tests run tiny models in this process: one torch thread is several times faster for them
    than torch's default on a busy 2-core machine (docs/performance.md), and the same
    everywhere. AECLI_TEST_THREADS overrides it."""
    import torch

    torch.set_num_threads(int(os.environ.get("AECLI_TEST_THREADS", "1")))
    yield


@pytest.fixture(scope="session", autouse=True)
def own_cache_folder(tmp_path_factory):
    """What aecli caches per user (the PCA spectra of evaluate) goes to a folder of this session's,
    not to ~/.cache."""
    os.environ["AECLI_CACHE_DIR"] = str(tmp_path_factory.mktemp("aecli-cache"))
    yield


@pytest.fixture
def mnist_root() -> Path:
    if not (MNIST_ROOT / "MNIST" / "raw").is_dir():
        skip_guarantee(f"MNIST files not found under {MNIST_ROOT}/MNIST/raw")
    return MNIST_ROOT


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(items) -> None:
    """A test that reads the real MNIST files (through `mnist_root`) carries the `mnist` marker, so
    `pytest --co -q -m "mnist and not slow"` lists the tests that skip without them."""
    for item in items:
        if "mnist_root" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.mnist)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """`make(*overrides, copy_to=DIR)`: train a tiny run once per session for each set of
    overrides (in-process), and hand out a fresh copy of its directory, so a test may change it freely."""
    cache: dict[tuple[str, ...], Path] = {}

    def make(*overrides: str, copy_to: Path) -> Path:
        if overrides not in cache:
            base = tmp_path_factory.mktemp("trained")
            run_cli("train", *overrides, f"hydra.run.dir={base / 'run'}", cwd=base)
            cache[overrides] = base / "run"
        shutil.copytree(cache[overrides], copy_to)
        return copy_to

    return make


# Helpers several test packages share.


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def events(run_dir: Path):
    """The run's TensorBoard events, every image and scalar loaded."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from aecli.runs.store import events_folder

    accumulator = EventAccumulator(str(events_folder(run_dir)), size_guidance={"images": 0, "scalars": 0})
    accumulator.Reload()
    return accumulator


def assert_complete_run(run_dir: Path, epochs: int) -> dict:
    import torch

    from aecli.engine.curves import curve_tag
    from aecli.runs.store import events_folder

    config = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    assert "${" not in OmegaConf.to_yaml(config)  # resolved
    for name in ("best.pt", "last.pt"):
        payload = torch.load(run_dir / "checkpoints" / name, weights_only=True)
        assert payload["format"] == "aecli-checkpoint"
        assert payload["config"]["model"] == OmegaConf.to_container(config.model)
        assert set(payload) >= {"model", "optimizer", "epoch", "config"}
    assert torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["epoch"] == epochs

    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("train_loss", "val_loss", "test_loss", "test_recon_sse", "best_epoch", "epochs"):
        assert key in metrics
    assert metrics["epochs"] == epochs

    tb = events(run_dir)
    scalars = tb.Tags()["scalars"]
    for split in ("train", "val"):
        for term in ("recon", "total"):
            tag = curve_tag(term, split)
            assert tag in scalars
            assert [e.step for e in tb.Scalars(tag)] == list(range(1, epochs + 1))
    images = tb.Tags()["images"]
    assert any("tsne" in tag or "latent" in tag for tag in images)
    assert "reconstructions/val" in images and "reconstructions/test" in images
    assert (events_folder(run_dir) / "projector_config.pbtxt").is_file()
    assert (run_dir / "tsne.png").is_file() or (run_dir / "latent.png").is_file()  # the code itself when 2-D
    assert (run_dir / "reconstructions.png").is_file()
    return metrics


def model_cfg(name: str, **overrides):
    return OmegaConf.merge(OmegaConf.load(REPO / "configs" / "model" / f"{name}.yaml"), overrides)


def regularizers(**chosen):
    """Build regularizers from the shipped defaults merged with `chosen` settings."""
    from aecli.regularizers import build_regularizers

    node = {name: OmegaConf.merge(OmegaConf.load(REPO / "configs" / "regularizer" / f"{name}.yaml"), settings)
            for name, settings in chosen.items()}
    return build_regularizers(OmegaConf.create(node))


def write_fake_mnist(raw_dir: Path, num_train: int = 60, num_test: int = 20, gz: bool = True) -> dict[str, np.ndarray]:
    """Tiny MNIST look-alike in the torchvision layout; returns the arrays written."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (num_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(num_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (num_test, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(num_test) % 10,
    }
    write_idx_files(raw_dir, arrays, gz)
    return arrays


def write_idx_files(raw_dir: Path, arrays: dict[str, np.ndarray], gz: bool = True) -> None:
    """Each array as the IDX file of its name in `raw_dir`, gzipped (`<name>.gz`) or not."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        payload = idx_bytes(array)
        if gz:
            (raw_dir / f"{name}.gz").write_bytes(gzip.compress(payload))
        else:
            (raw_dir / name).write_bytes(payload)
