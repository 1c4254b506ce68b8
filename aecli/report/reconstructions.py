"""Reconstructions: inputs beside what the model makes of them (an image grid, heatmaps of a
table's named columns, or one panel per signal), in TensorBoard during training and as
reconstructions.png at the end."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from aecli.data import Dataset, Split
from aecli.engine.steps import reconstruct
from aecli.likelihoods import Likelihood
from aecli.models import Autoencoder
from aecli.report.figures import grid_figure, image_grid, plt, signal_figure
from aecli.report.pictures import PictureFiles
from aecli.report.tables import column_statistics, standardized, table_figure


def log_reconstructions(
    writer: Any, model: Autoencoder, likelihood: Likelihood, data: Dataset, split: Split, shown: int, tag: str, step: int,
    files: PictureFiles | None = None,
) -> None:
    """The first `shown` samples of `split` beside their reconstructions: an image grid (images),
    heatmaps of a table's columns in standard deviations from the training mean, or one panel per
    signal; also reconstructions.png when `files` says where."""
    x = split.batch(slice(shown))
    recon = reconstruct(model, likelihood, x, split.batch_labels(slice(shown)))
    if data.kind == "image":
        grid = image_grid([x, recon])
        writer.add_image(tag, grid, step)
        if files is not None:
            files.save("reconstructions.png", grid_figure(grid, ["input", "output"]), step)
        return
    if files is not None:  # before TensorBoard, which closes the figure
        files.save("reconstructions.png", reconstruction_figure(data, split, x, recon), step)
    writer.add_figure(tag, reconstruction_figure(data, split, x, recon), step)


def reconstruction_figure(data: Dataset, split: Split, x: Tensor, recon: Tensor) -> plt.Figure:
    """Vectors and their reconstructions: a table's rows as heatmaps (input, reconstruction and
    their difference, every column standardized by the training split and named on the axis),
    a curve over its axis as one panel per signal in the data's own units."""
    if not data.feature_names:
        return signal_figure(data.axis, data.denormalize(x), data.denormalize(recon), data.axis_name)
    statistics = column_statistics(data.train)
    inputs, outputs = standardized(x, statistics), standardized(recon, statistics)
    labels = split.labels[: len(x)].tolist() if split.labels is not None else None
    rows = [f"{i} ({data.class_name(int(labels[i]))})" if labels else str(i) for i in range(len(x))]
    panels = [("input", inputs), ("reconstruction", outputs), ("reconstruction - input", outputs - inputs)]
    return table_figure(data.feature_names, panels, rows, "sample (class)" if labels else "sample")
