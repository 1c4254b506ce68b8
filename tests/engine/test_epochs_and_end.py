"""How long a run trains and what its last lines say: trainer.epochs=null counts epochs so small
data gets trainer.min_steps optimizer steps, the start line gives the steps per epoch, the end
warns when validation was still improving, and the final figures say what they were computed on."""

from __future__ import annotations

import json
import re

import pytest
from omegaconf import OmegaConf

from aecli.engine.schedule import AUTO_EPOCHS, settle_epochs, still_improving
from conftest import run_cli

QUIET = ["tsne.enabled=false", "log.num_reconstructions=0", "trainer.progress=false"]


def trainer(epochs, min_steps=1000, batch_size=128):
    return OmegaConf.create({"epochs": epochs, "min_steps": min_steps, "batch_size": batch_size})


def test_auto_epochs_reach_min_steps_on_small_data():
    small = trainer(None)
    line = settle_epochs(small, 300)  # 3 steps per epoch: 334 epochs give 1002 >= 1000 steps
    assert small.epochs == 334 and "min_steps=1000 at 3 steps per epoch" in line
    large = trainer(None)
    assert settle_epochs(large, 60000) == "trainer.epochs=30 (auto: at least 30)" and large.epochs == AUTO_EPOCHS
    given = trainer(2)
    assert settle_epochs(given, 300) is None and given.epochs == 2  # an explicit number is kept


def test_still_improving_warns_on_a_falling_curve_only():
    falling = [100.0 * 0.97**epoch for epoch in range(20)]  # 5 epochs of 3 %: 14 % over the last quarter
    warning = still_improving(falling, 20)
    assert warning is not None and "trainer.epochs=N (N > 20)" in warning and "last 5 epochs" in warning
    assert still_improving([100.0] * 10 + [99.5] * 10, 20) is None  # 0.5 %: done
    assert "last 2 epochs" in still_improving([100.0, 50.0, 40.0], 3)  # a 3-epoch first run is judged too
    assert still_improving([100.0, 50.0], 2) is None  # too few epochs to judge


def test_train_says_steps_auto_epochs_and_still_improving(tmp_path):
    run = tmp_path / "run"
    result = run_cli("train", "dataset.num_samples=400", "trainer.min_steps=100", "trainer.epochs=null",
                     *QUIET, f"hydra.run.dir={run}", cwd=tmp_path)
    log = (run / "train.log").read_text()
    assert "epochs of 3 steps (batch 128)" in log  # 320 training samples
    assert "trainer.epochs=34 (auto: trainer.min_steps=100 at 3 steps per epoch)" in log
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 34
    assert OmegaConf.load(run / ".hydra" / "config.yaml").trainer.epochs == 34  # the saved config says what ran
    short = tmp_path / "short"
    run_cli("train", "dataset.num_samples=400", "trainer.epochs=4", *QUIET, f"hydra.run.dir={short}", cwd=tmp_path)
    assert "validation was still improving" in (short / "train.log").read_text()
    assert result.returncode == 0


@pytest.mark.parametrize("regularizer", ["denoising", "vae"])
def test_final_line_names_what_each_figure_is(tmp_path, regularizer):
    run = tmp_path / regularizer
    run_cli("train", f"regularizer={regularizer}", "dataset.num_samples=400", "trainer.epochs=3", *QUIET,
            f"hydra.run.dir={run}", cwd=tmp_path)
    log = (run / "train.log").read_text()
    done = next(line for line in log.splitlines() if "done in" in line)
    best = int(re.search(r"best epoch (\d+) of 3 \(best.pt\)", done).group(1))
    logged = float(re.search(rf"epoch +{best}/3 +train [\d.]+ +val ([\d.]+)", log).group(1))
    metrics = json.loads((run / "metrics.json").read_text())
    # best.pt's validation loss read again after training is the one its epoch logged (seeded
    # corruption, and for the VAE seeded draws of z)
    assert metrics["val_loss"] == pytest.approx(logged, abs=1e-4)
    if regularizer == "denoising":
        assert "(input corrupted as in training)" in done and "(clean input)" in done
    else:
        assert "corrupted" not in done
