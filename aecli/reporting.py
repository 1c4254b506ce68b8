"""What a run shows in TensorBoard: reconstruction pictures and the t-SNE latent figure."""

from __future__ import annotations

import time
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # figures are rendered to files and TensorBoard, never to a screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from aecli.data import Dataset, Split  # noqa: E402


def image_grid(rows: list[Tensor], pad: int = 2) -> Tensor:
    """Stack equal-length batches of C x H x W images into one grid image (C, H', W'), one batch per row.

    Values are shown as they are when they lie in [0, 1], else scaled by the grid's
    own min and max (variance-MNIST inputs are signed).
    """
    images = torch.stack([torch.stack(list(row)) for row in rows]).float().cpu()  # (R, N, C, H, W)
    low, high = images.min(), images.max()
    if low < 0 or high > 1:
        images = (images - low) / (high - low).clamp_min(1e-8)
    num_rows, num_cols, channels, height, width = images.shape
    grid = torch.ones(channels, num_rows * (height + pad) + pad, num_cols * (width + pad) + pad)
    for r in range(num_rows):
        for c in range(num_cols):
            top, left = pad + r * (height + pad), pad + c * (width + pad)
            grid[:, top : top + height, left : left + width] = images[r, c]
    return grid


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


@dataclass
class TsneResult:
    embedding: np.ndarray  # (n, 2)
    codes: np.ndarray  # (n, latent_dim), the subsample that was embedded
    index: np.ndarray  # positions of the subsample in the split
    seconds: float


def tsne_embedding(codes: Tensor, num_points: int, perplexity: float, seed: int) -> TsneResult:
    """t-SNE (scikit-learn, PCA initialization, fixed seed) of at most `num_points` codes."""
    from sklearn.manifold import TSNE

    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    total = codes.shape[0]
    index = np.sort(rng.choice(total, size=num_points, replace=False)) if total > num_points else np.arange(total)
    chosen = codes[index].double().cpu().numpy()
    # Perplexity must stay below the number of points; tiny test splits would fail otherwise.
    perplexity = float(min(perplexity, max(1.0, (len(chosen) - 1) / 3)))
    init = "pca" if chosen.shape[1] >= 2 else "random"
    embedding = TSNE(
        n_components=2, perplexity=perplexity, init=init, random_state=seed, n_jobs=-1
    ).fit_transform(chosen)
    return TsneResult(embedding, chosen, index, time.perf_counter() - start)


def latent_figure(points: np.ndarray, split: Split, index: np.ndarray, data: Dataset, title: str) -> plt.Figure:
    """Scatter 2-D points coloured by digit label, or one panel per generating factor."""
    if split.labels is not None:
        labels = split.labels[index].cpu().numpy()
        fig, ax = plt.subplots(figsize=(6.4, 5.6))
        for value in np.unique(labels):
            mask = labels == value
            ax.scatter(points[mask, 0], points[mask, 1], s=4, color=plt.cm.tab10(value % 10), label=str(value))
        ax.legend(title="digit", markerscale=3, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
        ax.set_title(title)
        _clean(ax)
    elif split.factors is not None:
        factors = split.factors[index].cpu().numpy()
        names = data.factor_names
        fig, axes = plt.subplots(1, len(names), figsize=(5.0 * len(names), 4.4), squeeze=False)
        for j, (ax, name) in enumerate(zip(axes.flat, names)):
            sc = ax.scatter(points[:, 0], points[:, 1], c=factors[:, j], s=4, cmap="viridis")
            fig.colorbar(sc, ax=ax, label=name)
            ax.set_title(f"{title}, colour: {name}")
            _clean(ax)
    else:
        fig, ax = plt.subplots(figsize=(5.6, 5.6))
        ax.scatter(points[:, 0], points[:, 1], s=4)
        ax.set_title(title)
        _clean(ax)
    fig.tight_layout()
    return fig


def embedding_metadata(split: Split, index: np.ndarray, data: Dataset) -> tuple[list, list[str] | None]:
    """Per-point labels for TensorBoard's projector: the digit, or the factor values."""
    if split.labels is not None:
        return [int(v) for v in split.labels[index].tolist()], None
    if split.factors is not None:
        rows = [[f"{v:.4g}" for v in row] for row in split.factors[index].tolist()]
        return rows, list(data.factor_names)
    return [str(i) for i in index.tolist()], None


def _clean(ax: plt.Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
