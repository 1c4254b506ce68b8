"""Rows of a table (a CSV file's, or an array's vectors) as a person reads them: every column in
standard deviations from its training mean, so a column in the thousands does not flatten the
others, drawn as heatmaps with the columns named on the axis."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from aecli.data import Split
from aecli.report.figures import plt

MAX_NAMED_COLUMNS = 30  # more columns than this: every k-th one is named, so the names stay legible
MAX_PANEL_INCHES = 6.5  # a panel's width: 0.3 inch per column up to this (30 named columns: 0.22 inch each)
STATISTICS_ROWS = 20_000  # training rows the column statistics are estimated from (a fixed-seed draw)
COLOUR_LIMIT = 3.0  # standard deviations at the ends of the colour scale (larger values saturate)


def column_statistics(train: Split, rows: int = STATISTICS_ROWS) -> tuple[Tensor, Tensor]:
    """Each column's mean and standard deviation over (at most `rows` of) the training split, as the
    model sees the values. Standardizing is unchanged by the data's own affine normalization, so
    these standardize the raw values too, whether or not `dataset.normalize` did."""
    x = train.subset(rows).x.double()
    std = x.std(0) if len(x) > 1 else torch.ones(x.shape[1], dtype=x.dtype, device=x.device)
    return x.mean(0), std.clamp_min(1e-8)


def standardized(x: Tensor, statistics: tuple[Tensor, Tensor]) -> np.ndarray:
    """`x` (rows, columns) in standard deviations from the training mean, as float64 on the CPU."""
    mean, std = statistics
    return ((x.double().to(mean.device) - mean) / std).cpu().numpy()


def table_figure(
    columns: Sequence[str], panels: Sequence[tuple[str, np.ndarray]], row_labels: Sequence[str], row_name: str = "sample",
) -> plt.Figure:
    """Side by side, one heatmap per (title, values (rows, columns)) of `panels`: rows are examples,
    columns are named on the x axis, a diverging colour scale is centred at 0 (the training mean)
    and ends at +-COLOUR_LIMIT standard deviations."""
    rows, count = panels[0][1].shape
    width = max(2.2, min(MAX_PANEL_INCHES, 0.3 * count))
    label_room = 0.09 * max(len(name) for name in columns) if count <= MAX_NAMED_COLUMNS else 0.9
    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels) + 2.2, 0.28 * rows + 1.2 + label_room),
                             sharey=True, squeeze=False, layout="constrained")
    shown = np.arange(count) if count <= MAX_NAMED_COLUMNS else np.linspace(0, count - 1, MAX_NAMED_COLUMNS // 2).round().astype(int)
    for ax, (title, values) in zip(axes.flat, panels):
        image = ax.imshow(values, cmap="RdBu_r", vmin=-COLOUR_LIMIT, vmax=COLOUR_LIMIT, aspect="auto", interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(shown, [columns[i] for i in shown], rotation=60, ha="right", rotation_mode="anchor", fontsize=8)
    axes[0, 0].set_yticks(range(rows), row_labels, fontsize=8)
    axes[0, 0].set_ylabel(row_name)
    fig.colorbar(image, ax=axes, extend="both", shrink=0.9, pad=0.01, label="standard deviations from the training mean")
    return fig
