"""End to end: the real `aecli visualize-latents` on tiny runs: PNG files, TensorBoard figures, projector."""

from __future__ import annotations

import json

from aecli.runs.store import events_folder
from conftest import run_cli
from test_evaluate_e2e import DAMPED_LINEAR, LINES, mnist_run, snapshot
from conftest import events


def test_default_tsne_of_a_2d_code_also_draws_the_code_itself(trained_run, tmp_path):
    run_dir = trained_run(*LINES, copy_to=tmp_path / "run")
    metrics = (run_dir / "metrics.json").read_text()
    out = run_cli("visualize-latents", f"run={run_dir}", "num_points=50", cwd=tmp_path).stdout
    for method in ("tsne", "scatter"):
        assert (run_dir / f"latent_{method}.png").stat().st_size > 10_000
        assert str(run_dir / f"latent_{method}.png") in out
    images = events(run_dir).Tags()["images"]
    assert {"latent/tsne", "latent/scatter"} <= set(images)
    projector = (events_folder(run_dir) / "projector_config.pbtxt").read_text()
    assert projector.count("embeddings {") == 1 and "test_codes" in projector
    assert (run_dir / "metrics.json").read_text() == metrics  # plots only; no figures change


def test_pca_of_mnist_codes_with_digit_thumbnails_in_the_projector(mnist_root, trained_run, tmp_path):
    run_dir = trained_run(*mnist_run(mnist_root), copy_to=tmp_path / "run")
    run_cli("visualize-latents", f"run={run_dir}", "method=pca", cwd=tmp_path)
    assert (run_dir / "latent_pca.png").stat().st_size > 10_000
    assert not (run_dir / "latent_scatter.png").exists()  # a 3-D code is not drawn directly
    assert "latent/pca" in events(run_dir).Tags()["images"]
    step = json.loads((run_dir / "metrics.json").read_text())["best_epoch"]
    folder = events_folder(run_dir) / f"{step:05d}" / "test_codes"
    assert (folder / "sprite.png").is_file()
    assert len((folder / "metadata.tsv").read_text().split()) == 100  # one digit per test image
    assert "sprite" in (events_folder(run_dir) / "projector_config.pbtxt").read_text()


def test_a_method_that_cannot_draw_the_code_is_one_line_and_writes_nothing(trained_run, tmp_path):
    """The run checks themselves are shared with evaluate (aecli.runs) and tested there."""
    run_dir = trained_run(*DAMPED_LINEAR, copy_to=tmp_path / "run")
    before = snapshot(run_dir)
    result = run_cli("visualize-latents", f"run={run_dir}", "method=scatter", check=False, cwd=tmp_path)
    assert result.returncode == 2
    assert "method=scatter draws 2-D codes directly, but this run's code is 3-D; use method=tsne or pca" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr + result.stdout
    assert snapshot(run_dir) == before
    result = run_cli("visualize-latents", f"run={run_dir}", "max_iter=200", check=False, cwd=tmp_path)
    assert result.returncode == 2 and "max_iter must be an integer > 250" in result.stderr
    assert snapshot(run_dir) == before
