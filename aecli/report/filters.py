"""Pictures of what a model learned: its `filters()` (a dense first layer's rows, a first
convolution's kernels, a dictionary's atoms), as an image grid or one panel per filter, titled
with the layer and how many of its filters are shown, wide enough to read."""

from __future__ import annotations

from typing import Any

import torch

from aecli.data import Dataset
from aecli.models import Autoencoder
from aecli.report.figures import grid_figure, image_grid, plt, scaled_rows, signal_panels

MIN_WIDTH_PIXELS = 600  # an image grid of filters is enlarged (whole pixels) to at least this width
MAX_PANELS = 16  # filters of 1-D data: one small panel each, at most this many


def filters_picture(model: Autoencoder, data: Dataset, max_filters: int) -> tuple[str, plt.Figure] | None:
    """The model's `filters()` as (tag, figure): an image grid, 10 per row, each filter scaled by
    its own min and max, where they are images; one panel per filter (at most MAX_PANELS) for 1-D
    signals; titled `<tag>: <shown> of <count> ...`. None when the model has no filters to show."""
    found = model.filters()
    if found is None:
        return None
    tag, weights = found
    count = len(weights)
    weights = weights[:max_filters].float().cpu()
    if weights.ndim == 4:  # (units, C, H, W): images
        images = scaled_rows(weights.flatten(1)).reshape(weights.shape)
        per_row = _row_length(len(images))
        rows = [images[i : i + per_row] for i in range(0, len(images) - len(images) % per_row, per_row)]
        grid = image_grid(rows, pad=1)
        scale = max(2, -(-MIN_WIDTH_PIXELS // grid.shape[2]))  # whole pixels: sharp edges
        height, width = weights.shape[2:]
        title = f"{tag}: {sum(map(len, rows))} of {count}, {height}x{width} each, each scaled to its own range"
        return tag, grid_figure(grid, scale=scale, title=title)
    shown = min(MAX_PANELS, len(weights))
    title = f"{tag}: {shown} of {count}, on a common scale"
    return tag, signal_panels(data.axis.cpu().numpy(), weights.flatten(1)[:shown], title, "unit")


def _row_length(count: int) -> int:
    """Filters per row: the largest divisor of `count` up to 10 (16 kernels: two rows of 8),
    else 10 with the last, partial row left out."""
    divisor = max(d for d in range(1, min(10, count) + 1) if count % d == 0)
    return divisor if divisor >= 5 or count <= 10 else 10


@torch.inference_mode()
def log_filters(writer: Any, model: Autoencoder, data: Dataset, step: int, max_filters: int = 100) -> None:
    """The model's learned filters (`Autoencoder.filters`: a first layer's weights, a
    dictionary's atoms) under their tag, drawn by `filters_picture`."""
    found = filters_picture(model, data, max_filters)
    if found is not None:
        writer.add_figure(*found, step)
