"""Pictures as matplotlib figures and image tensors, with no knowledge of runs or TensorBoard
(aecli.report.tensorboard writes them; latent plots live in aecli.report.latents)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # figures are rendered to files and TensorBoard, never to a screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
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


def grid_figure(grid: Tensor, row_labels: list[str] | None = None, scale: float = 3.0, title: str = "") -> plt.Figure:
    """An `image_grid` as a figure, upscaled `scale` times with sharp pixels, each row named on the
    left, `title` above."""
    channels, height, width = grid.shape
    fig = plt.figure(figsize=(width * scale / 100 + 0.9, height * scale / 100 + 0.5), dpi=100)
    ax = fig.add_axes((0.8 / (width * scale / 100 + 0.9), 0.02, 1 - 0.9 / (width * scale / 100 + 0.9), 0.9))
    image = grid.permute(1, 2, 0).numpy()
    ax.imshow(image[..., 0] if channels == 1 else image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    if title:
        ax.set_title(title, fontsize=9)
    if row_labels:
        rows = len(row_labels)
        ax.set_yticks([(i + 0.5) * height / rows for i in range(rows)], row_labels, fontsize=9)
        ax.tick_params(length=0)
    else:
        ax.set_yticks([])
    return fig


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


def curves_figure(axis: np.ndarray, curves: Tensor, axis_name: str) -> plt.Figure:
    """Decoded prior samples of a 1-D signal, overlaid in one panel."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for curve in curves.numpy():
        ax.plot(axis, curve, lw=1.0, alpha=0.8)
    ax.set_xlabel(axis_name)
    ax.set_ylabel("value")
    ax.set_title(f"{len(curves)} samples from the prior")
    fig.tight_layout()
    return fig


def traversal_figure(axis: np.ndarray, curves: Tensor, values: Tensor, axis_name: str) -> plt.Figure:
    """One panel per latent: the decoded signal as that latent sweeps `values`, coloured by value."""
    latent_dim = curves.shape[0]
    cols = min(4, latent_dim)
    rows = -(-latent_dim // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.2 * cols + 1.2, 2.8 * rows), squeeze=False, sharex=True, sharey=True, layout="constrained"
    )
    norm = matplotlib.colors.Normalize(values.min().item(), values.max().item())
    for i, ax in enumerate(axes.flat):
        if i >= latent_dim:
            ax.axis("off")
            continue
        for value, curve in zip(values.tolist(), curves[i].numpy()):
            ax.plot(axis, curve, color=plt.cm.coolwarm(norm(value)), lw=1.2)
        ax.set_title(f"z{i}")
        if i >= latent_dim - cols:
            ax.set_xlabel(axis_name)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="coolwarm"), ax=axes, label="latent value", shrink=0.9)
    return fig


def manifold_figure(curves: Tensor, values: Tensor) -> plt.Figure:
    """The decoded signal at every point of a 2-D latent grid, one small curve per cell
    (rows: z1 from high to low; columns: z0 from low to high), on a common vertical scale."""
    steps = curves.shape[0]
    low, high = curves.min().item(), curves.max().item()
    scaled = (curves.numpy() - low) / max(high - low, 1e-8)
    x = np.linspace(0.05, 0.95, curves.shape[-1])
    fig, ax = plt.subplots(figsize=(7.0, 7.0))
    for row in range(steps):
        for col in range(steps):
            ax.plot(col + x, steps - 1 - row + 0.1 + 0.8 * scaled[row, col], color="tab:blue", lw=0.8)
    ticks = np.arange(steps) + 0.5
    labels = [f"{round(v, 6) + 0.0:.2g}" for v in values.tolist()]  # linspace leaves -1e-7 where 0 is meant
    ax.set_xticks(ticks, labels, fontsize=7)
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_xlabel("z0")
    ax.set_ylabel("z1")
    ax.set_title("decoder over the latent grid")
    ax.set_xlim(0, steps)
    ax.set_ylim(0, steps)
    fig.tight_layout()
    return fig


def signal_panels(axis: np.ndarray, curves: Tensor, title: str, label: str) -> plt.Figure:
    """At most 16 curves (rows of `curves`), one small panel each, on a common scale."""
    shown = curves[:16]
    cols = min(4, len(shown))
    rows = -(-len(shown) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.8 * cols, 2.0 * rows), squeeze=False, sharex=True, sharey=True)
    for i, ax in enumerate(axes.flat):
        if i >= len(shown):
            ax.axis("off")
            continue
        ax.plot(axis, shown[i].numpy(), color="tab:blue", lw=1.2)
        ax.axhline(0.0, color="0.7", lw=0.6)
        ax.set_title(f"{label} {i}", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def scaled_rows(weights: Tensor) -> Tensor:
    """Each row of `weights` scaled to [0, 1] by its own min and max (filters as pictures)."""
    low = weights.min(1, keepdim=True).values
    high = weights.max(1, keepdim=True).values
    return (weights - low) / (high - low).clamp_min(1e-8)
