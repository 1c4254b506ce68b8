"""What a run shows in TensorBoard: reconstruction pictures (latent plots live in aecli.latents)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # figures are rendered to files and TensorBoard, never to a screen
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402


def image_grid(rows: list[Tensor], pad: int = 2) -> Tensor:
    """Stack equal-length batches of C x H x W images into one grid image (C, H', W'), one batch per row.

    Values are shown as they are when they lie in [0, 1], else scaled by the grid's
    own min and max (variance-MNIST inputs are signed).
    """
    images = to_unit_range(torch.stack([torch.stack(list(row)) for row in rows]))  # (R, N, C, H, W)
    num_rows, num_cols, channels, height, width = images.shape
    grid = torch.ones(channels, num_rows * (height + pad) + pad, num_cols * (width + pad) + pad)
    for r in range(num_rows):
        for c in range(num_cols):
            top, left = pad + r * (height + pad), pad + c * (width + pad)
            grid[:, top : top + height, left : left + width] = images[r, c]
    return grid


def to_unit_range(images: Tensor) -> Tensor:
    """Images as float on the CPU, kept as they are when they lie in [0, 1], else scaled by
    their own min and max (variance-MNIST inputs are signed)."""
    images = images.float().cpu()
    low, high = images.min(), images.max()
    if low < 0 or high > 1:
        images = (images - low) / (high - low).clamp_min(1e-8)
    return images


def signal_figure(axis: Tensor, originals: Tensor, reconstructions: Tensor, axis_name: str) -> plt.Figure:
    """One panel per example: the signal and its reconstruction over `axis`."""
    count = len(originals)
    cols = min(4, count)
    rows = -(-count // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False, sharex=True)
    t = axis.cpu().numpy()
    for i, ax in enumerate(axes.flat):
        if i >= count:
            ax.axis("off")
            continue
        ax.plot(t, originals[i].cpu().numpy(), color="0.2", lw=1.5, label="signal")
        ax.plot(t, reconstructions[i].cpu().numpy(), color="tab:red", lw=1.2, ls="--", label="reconstruction")
        if i % cols == 0:
            ax.set_ylabel("value")
        if i >= count - cols:
            ax.set_xlabel(axis_name)
    axes.flat[0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig
