"""Reconstructions: inputs beside what the model makes of them (an image grid, or one panel per
signal), in TensorBoard during training and as reconstructions.png at the end."""

from __future__ import annotations

from typing import Any

from aecli.data import Dataset, Split
from aecli.engine.steps import reconstruct
from aecli.likelihoods import Likelihood
from aecli.models import Autoencoder
from aecli.report.figures import grid_figure, image_grid, signal_figure
from aecli.report.pictures import PictureFiles


def log_reconstructions(
    writer: Any, model: Autoencoder, likelihood: Likelihood, data: Dataset, split: Split, shown: int, tag: str, step: int,
    files: PictureFiles | None = None,
) -> None:
    """The first `shown` samples of `split` beside their reconstructions: an image grid (images) or
    one panel per signal; also reconstructions.png when `files` says where."""
    x = split.batch(slice(shown))
    recon = reconstruct(model, likelihood, x, split.batch_labels(slice(shown)))
    if data.kind == "image":
        grid = image_grid([x, recon])
        writer.add_image(tag, grid, step)
        if files is not None:
            files.save("reconstructions.png", grid_figure(grid, ["input", "output"]), step)
        return
    figure = signal_figure(data.axis, data.denormalize(x), data.denormalize(recon), data.axis_name)
    if files is not None:
        files.save("reconstructions.png", figure, step)  # before TensorBoard, which closes the figure
        figure = signal_figure(data.axis, data.denormalize(x), data.denormalize(recon), data.axis_name)
    writer.add_figure(tag, figure, step)
