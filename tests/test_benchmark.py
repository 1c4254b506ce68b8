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
    # The roofline columns: FLOPs counted on the real model, a peak measured in the run, their ratio.
    flops = row["flops"]
    assert flops["train_per_sample"] > 2 * flops["val_per_sample"] > 0  # forward + backward vs forward alone
    # the VAE's matrix products, forward: 2 * (784*400 + 400*40 + 20*400 + 400*784) FLOPs per sample
    assert flops["val_per_sample"] == 2 * (784 * 400 + 400 * 40 + 20 * 400 + 400 * 784)
    peak = row["peak"]
    assert math.isclose(peak["gflops"], max(peak["gflops_measurements"]), abs_tol=0.1) and peak["gflops"] > 0 and len(peak["gflops_measurements"]) >= 2
    roofline = row["aecli"]["roofline"]
    assert math.isclose(roofline["achieved_gflops"], flops["per_epoch"] / row["aecli"]["median_epoch_seconds"] / 1e9)
    assert math.isclose(roofline["fraction_of_peak"], roofline["achieved_gflops"] / peak["gflops"])
    saved = json.loads((tmp_path / "benchmark_cpu_quick.json").read_text())
    assert saved["configs"][0]["speedup"] == row["speedup"]
    markdown = (tmp_path / "benchmark_cpu_quick.md").read_text()
    assert "VAE 784-400-20" in markdown and "Not run on a GPU" in markdown
    assert "fraction of peak" in markdown and "peak GFLOP/s" in markdown
