"""Pictures of what a model learned: its `filters()` (a dense first layer's rows, a first
convolution's kernels, a dictionary's atoms), as an image grid or one panel per filter."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from aecli.data import Dataset
from aecli.models import Autoencoder
from aecli.report.figures import image_grid, plt, scaled_rows, signal_panels


def filters_picture(model: Autoencoder, data: Dataset, max_filters: int) -> tuple[str, Tensor | plt.Figure] | None:
    """The model's `filters()` as (tag, picture): an image grid (C, H, W), 10 per row, each
    filter scaled by its own min and max, where they are images; one panel per filter (at most
    16) for 1-D signals; None when the model has no filters to show."""
    found = model.filters()
    if found is None:
        return None
    tag, weights = found
    weights = weights[:max_filters].float().cpu()
    if weights.ndim == 4:  # (units, C, H, W): images
        images = scaled_rows(weights.flatten(1)).reshape(weights.shape)
        per_row = _row_length(len(images))
        rows = [images[i : i + per_row] for i in range(0, len(images) - len(images) % per_row, per_row)]
        return tag, image_grid(rows)
    name = tag.split("/")[-1]
    title = f"{min(16, len(weights))} of {len(found[1])} {name} (each on its own scale)"
    return tag, signal_panels(data.axis.cpu().numpy(), weights.flatten(1), title, "unit")


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
    if found is None:
        return
    tag, picture = found
    if isinstance(picture, Tensor):
        writer.add_image(tag, picture, step)
    else:
        writer.add_figure(tag, picture, step)
