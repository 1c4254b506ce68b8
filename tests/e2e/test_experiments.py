"""Every ready-made experiment (configs/experiment/*.yaml) composes and runs end to end for one
epoch on tiny data, evaluation included, so none of them rots. In-process, through the same
`train` task the command runs, to keep it fast."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import MNIST_ROOT, REPO, train_in_process, skip_guarantee

EXPERIMENTS = sorted(path.stem for path in (REPO / "configs" / "experiment").glob("*.yaml"))


def dataset_of(name: str) -> str:
    """The dataset an experiment chooses, from its defaults list (or the one it extends), read
    without composing, so the MNIST ones carry the `mnist` marker when collected."""
    defaults = yaml.safe_load((REPO / "configs" / "experiment" / f"{name}.yaml").read_text()).get("defaults", [])
    for entry in defaults:
        if isinstance(entry, dict) and "override /dataset" in entry:
            return entry["override /dataset"]
    parents = [entry for entry in defaults if isinstance(entry, str) and entry != "_self_"]
    return dataset_of(parents[0]) if parents else "lines"


ONE_CLASS_DIGITS = [f"one_class_mnist_{digit}" for digit in range(1, 10)]  # one_class_mnist_0 with another digit
MARKED = [pytest.param(name, marks=pytest.mark.mnist) if "mnist" in dataset_of(name) else name
          for name in EXPERIMENTS if name not in ONE_CLASS_DIGITS]
TINY_MNIST = ["dataset.train_size=64", "dataset.val_size=64", "dataset.test_size=64"]
TINY_SIGNALS = ["dataset.num_samples=200"]
COMMON = ["trainer.epochs=1", "tsne.enabled=false", "trainer.progress=false", "log.num_reconstructions=0",
          "trainer.device=cpu"]


def test_every_experiment_is_listed_in_results():
    from aecli.results import load_entries

    assert EXPERIMENTS and {entry.experiment for entry in load_entries()} == set(EXPERIMENTS)


@pytest.mark.parametrize("name", MARKED)
def test_experiment_runs_train_then_evaluate(name, tmp_path):
    cfg_text = (REPO / "configs" / "experiment" / f"{name}.yaml").read_text()
    assert cfg_text.splitlines()[1].startswith(f"# {name}:")  # says what it reproduces
    from hydra import compose, initialize_config_module

    with initialize_config_module("aecli.configs", version_base="1.3"):
        uses_mnist = "mnist" in compose("train", overrides=[f"+experiment={name}"]).dataset.name
    assert uses_mnist == ("mnist" in dataset_of(name))  # its marker is right
    if uses_mnist and not (MNIST_ROOT / "MNIST" / "raw").is_dir():
        skip_guarantee(f"MNIST files not found under {MNIST_ROOT}/MNIST/raw")
    tiny = [*TINY_MNIST, f"data.root={MNIST_ROOT}"] if uses_mnist else TINY_SIGNALS
    run_dir = tmp_path / "run"

    returned = train_in_process([f"+experiment={name}", *tiny, *COMMON], run_dir)

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["epochs"] == 1
    assert returned == metrics["val_loss"]  # the default objective
    assert "recon_sse" in metrics and "jacobian_fro" in metrics  # evaluate ran after training
    if "include_classes" in cfg_text:  # one class: scored by anomaly detection, no probe
        assert 0 <= metrics["anomaly_auroc"] <= 1 and "probe_linear_acc" not in metrics
    elif uses_mnist:
        assert 0 <= metrics["probe_linear_acc"] <= 1
    else:
        assert "mig" in metrics and "factor_corr" in metrics
    if "override /regularizer: [vae]" in cfg_text:
        assert "active_units" in metrics and "elbo" in metrics


def test_each_one_class_experiment_trains_on_its_digit_against_deep_svdds_figure():
    """one_class_mnist_1 .. _9 are one_class_mnist_0 with another digit, each held to Deep SVDD's
    AUROC for it (Ruff et al. 2018, table 1); composed, not trained (one_class_mnist_0 trains above)."""
    from hydra import compose, initialize_config_module

    from aecli.results import load_entries

    deep_svdd = [0.980, 0.997, 0.917, 0.919, 0.949, 0.885, 0.983, 0.946, 0.939, 0.965]
    entries = {entry.experiment: entry for entry in load_entries()}
    with initialize_config_module("aecli.configs", version_base="1.3"):
        for digit in range(10):
            cfg = compose("train", overrides=[f"+experiment=one_class_mnist_{digit}"])
            assert list(cfg.dataset.include_classes) == [digit] and cfg.likelihood.name == "gaussian"
            (target,) = entries[f"one_class_mnist_{digit}"].targets
            assert (target.figure, target.op, target.value) == ("anomaly_auroc", ">=", deep_svdd[digit])
