"""The benchmark script (benchmarks/run.py) in its quickest mode, so it keeps working."""

from __future__ import annotations

import importlib.util
import json
import math

from conftest import REPO


def load_benchmark():
    spec = importlib.util.spec_from_file_location("aecli_benchmark", REPO / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_benchmark_times_both_loops_and_writes_its_reports(mnist_root, tmp_path):
    benchmark = load_benchmark()
    report = benchmark.main(["--quick", "--configs", "vae", "--data-root", str(mnist_root), "--out", str(tmp_path)])

    (row,) = report["configs"]
    for side in ("aecli", "reference"):
        assert row[side]["median_epoch_seconds"] > 0
        assert math.isfinite(row[side]["test_loss"])
    # Same initial weights, same objective, four batches each: the two test losses stay close.
    assert abs(row["test_loss_gap"]) < 20
    saved = json.loads((tmp_path / "benchmark_cpu_quick.json").read_text())
    assert saved["configs"][0]["speedup"] == row["speedup"]
    markdown = (tmp_path / "benchmark_cpu_quick.md").read_text()
    assert "VAE 784-400-20" in markdown and "Not run on a GPU" in markdown
