"""The pictures that close a train run, from its best checkpoint: test reconstructions
(reconstructions.png), a generative model's samples and traversals, the learned filters, and the
latent plot (tsne.png, or latent.png for a 2-D code)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from aecli.report.filters import log_filters
from aecli.report.generative import log_codebook_pictures, log_generative_pictures
from aecli.report.latents import latent_plot
from aecli.report.pictures import PictureFiles
from aecli.report.reconstructions import log_reconstructions

log = logging.getLogger("aecli")


def final_pictures(experiment: Any, writer: Any, run_dir: Path, step: int) -> dict[str, float]:
    """Draw them into `writer` and `run_dir` at `step` (the best epoch); returns the t-SNE's seconds
    for metrics.json when one was drawn. The latent plot comes last: a failure there leaves every
    other picture written."""
    exp, cfg = experiment, experiment.cfg
    files = PictureFiles(run_dir, run_dir.name)
    shown = min(cfg.log.num_reconstructions, len(exp.data.val), len(exp.data.test))
    if shown:
        log_reconstructions(writer, exp.model, exp.likelihood, exp.data, exp.data.test, shown, "reconstructions/test", step, files)
    log_generative_pictures(writer, exp.model, exp.likelihood, exp.data, cfg.log, step, files)
    log_codebook_pictures(writer, exp.model, exp.likelihood, exp.data, step, files)
    log_filters(writer, exp.model, exp.data, step)
    if not cfg.tsne.enabled:
        return {}
    drawn = latent_plot(exp, writer, run_dir, step)
    if drawn is None:
        log.info("t-SNE skipped: the test split holds %d codes, too few to place", len(exp.data.test))
        return {}
    log.info("%s: %.1fs", drawn.title, drawn.seconds)
    return {"tsne_seconds": drawn.seconds} if drawn.method == "tsne" else {}
