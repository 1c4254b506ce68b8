"""Latent plots of a split's codes: t-SNE, PCA or the code itself, coloured by class or factor.

One place for the end of `aecli train` (`latent_plot`) and for `aecli visualize-latents`:
encode, embed in 2-D, draw, save the PNG, add the figure (and the embedding projector's files,
aecli.report.projector) to TensorBoard.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from aecli.config.keys import TSNE_FIRST_PHASE
from aecli.data import Dataset, Split
from aecli.engine.steps import encode_split
from aecli.errors import UserError
from aecli.models import Autoencoder
from aecli.report.figures import plt, to_unit_range
from aecli.report.projector import add_projector_embedding, embedding_metadata
from aecli.runs.store import atomic_write

# tsne.backend=auto: openTSNE (when installed) from this many points on, where it was measured
# faster than scikit-learn; its FFT-accelerated gradients from FFT_FROM points on (docs/performance.md).
OPENTSNE_FROM = 5000
FFT_FROM = 10000
# max_iter=None: the careful 1000 iterations below OPENTSNE_FROM codes; from there on 500, where
# openTSNE's learning rate (N / 12) has converged the picture (docs/performance.md, t-SNE backend by size).
ITERATIONS_SMALL, ITERATIONS_LARGE = 1000, 500


def tsne_iterations(max_iter: int | None, num_points: int) -> int:
    """`max_iter` itself, or for None the iterations chosen by the number of codes."""
    if max_iter is not None:
        return int(max_iter)
    return ITERATIONS_SMALL if num_points < OPENTSNE_FROM else ITERATIONS_LARGE


@dataclass
class LatentEmbedding:
    method: str
    points: np.ndarray  # (n, 2), what is drawn
    codes: np.ndarray  # (n, latent_dim), the subsample that was embedded
    index: np.ndarray  # positions of the subsample in the split
    seconds: float
    title: str
    axis_labels: tuple[str, str] | None = None  # None: the axes carry no meaning (t-SNE)


def check_method(method: str, latent_dim: int) -> None:
    """Refuse, before any work, an unknown method or one that cannot draw codes of `latent_dim`."""
    from aecli.config.keys import VISUALIZE_LATENTS

    VISUALIZE_LATENTS["method"].check("method", method)
    if method == "scatter" and latent_dim != 2:
        raise UserError(f"method=scatter draws 2-D codes directly, but this run's code is {latent_dim}-D; use method=tsne or pca")
    if method == "pca" and latent_dim < 2:
        raise UserError("method=pca needs a code of at least 2 dimensions, but this run's is 1-D; use method=tsne")


def subsample(total: int, num_points: int, seed: int) -> np.ndarray:
    """Sorted positions of at most `num_points` of `total` items, fixed by `seed`."""
    if total <= num_points:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, size=num_points, replace=False))


def tsne_backend(backend: str, num_points: int) -> str:
    """The backend that embeds `num_points` codes: `backend` itself, or for "auto" openTSNE when
    it is installed and there are at least OPENTSNE_FROM points, else scikit-learn."""
    if backend != "auto":
        return backend
    return "opentsne" if num_points >= OPENTSNE_FROM and importlib.util.find_spec("openTSNE") is not None else "sklearn"


def check_tsne_backend(backend: str) -> None:
    """Refuse, before any work, a t-SNE backend that is not installed."""
    if backend == "opentsne":
        try:
            import openTSNE  # noqa: F401
        except ImportError:
            raise UserError("tsne.backend=opentsne needs openTSNE: pip install 'aecli[opentsne]', or use tsne.backend=sklearn") from None


def embed_codes(
    codes: Tensor, method: str, num_points: int, perplexity: float, seed: int, backend: str = "sklearn",
    max_iter: int | None = 1000,
) -> LatentEmbedding:
    """2-D points for at most `num_points` codes (a fixed-seed subsample).

    tsne: scikit-learn (or openTSNE with `backend="opentsne"`), PCA initialization, fixed
    seed, `max_iter` iterations in all (the first 250 early exaggeration; None: by size,
    tsne_iterations), as many threads as
    torch uses (trainer.num_threads); pca: the top two principal
    components of the subsample; scatter: the 2-D code itself.
    """
    check_method(method, codes.shape[1])
    start = time.perf_counter()
    index = subsample(codes.shape[0], num_points, seed)
    chosen = codes[index].double().cpu().numpy()
    count = len(index)
    if method == "tsne":
        # Perplexity must stay below the number of points; tiny test splits would fail otherwise.
        perplexity = float(min(perplexity, max(1.0, (count - 1) / 3)))
        points = _tsne(chosen, perplexity, seed, backend, tsne_iterations(max_iter, count))
        return LatentEmbedding(method, points, chosen, index, time.perf_counter() - start, f"t-SNE of {count} test codes")
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, svd_solver="full").fit(chosen)
        shares = 100 * pca.explained_variance_ratio_
        title = f"PCA of {count} test codes ({shares.sum():.0f}% of their variance)"
        labels = (f"PC 1 ({shares[0]:.0f}% of the variance)", f"PC 2 ({shares[1]:.0f}%)")
        return LatentEmbedding(method, pca.transform(chosen), chosen, index, time.perf_counter() - start, title, labels)
    return LatentEmbedding(method, chosen, chosen, index, time.perf_counter() - start, f"{count} test codes", ("z0", "z1"))


def _tsne(codes: np.ndarray, perplexity: float, seed: int, backend: str, max_iter: int) -> np.ndarray:
    from threadpoolctl import threadpool_limits

    backend = tsne_backend(backend, len(codes))
    check_tsne_backend(backend)
    init = "pca" if codes.shape[1] >= 2 else "random"
    threads = torch.get_num_threads()
    # scikit-learn's gradient loop uses every OpenMP thread whatever n_jobs says; on a busy
    # machine more threads than free cores made it 3.5x slower (README, Performance).
    with threadpool_limits(threads):
        if backend == "opentsne":
            from openTSNE import TSNE as OpenTSNE

            embedding = OpenTSNE(
                n_components=2, perplexity=perplexity, initialization=init, random_state=seed, n_jobs=threads,
                early_exaggeration_iter=TSNE_FIRST_PHASE, n_iter=max_iter - TSNE_FIRST_PHASE,
                negative_gradient_method="fft" if len(codes) >= FFT_FROM else "bh",
            )
            return np.asarray(embedding.fit(codes))
        from sklearn.manifold import TSNE

        return TSNE(
            n_components=2, perplexity=perplexity, init=init, random_state=seed, n_jobs=threads, max_iter=max_iter
        ).fit_transform(codes)


MAX_PANELS_PER_ROW = 3


def latent_figure(embedding: LatentEmbedding, split: Split, data: Dataset) -> plt.Figure:
    """Scatter the 2-D points: one panel coloured by class (named by `data.class_names`) where the
    split is labelled, and one per generating factor (`data.factor_names`, each with its colour
    bar) where it has factors; a single uncoloured panel where it has neither."""
    index = embedding.index
    panels: list[tuple[str, np.ndarray | None]] = []
    if split.labels is not None:
        panels.append(("class", split.labels[index].cpu().numpy()))
    if split.factors is not None:
        factors = split.factors[index].cpu().numpy()
        panels += [(name, factors[:, j]) for j, name in enumerate(data.factor_names)]
    cols = min(MAX_PANELS_PER_ROW, max(1, len(panels)))
    rows = -(-max(1, len(panels)) // cols)
    fig, grid = plt.subplots(rows, cols, figsize=(5.4 * cols + 0.8, 4.8 * rows), squeeze=False, layout="constrained")
    axes = list(grid.flat)
    for ax, (name, values) in zip(axes, panels or [("", None)]):
        if name == "class":
            _class_panel(ax, embedding.points, values, data)
        elif values is not None:
            scatter = ax.scatter(embedding.points[:, 0], embedding.points[:, 1], c=values, s=4, cmap="viridis")
            fig.colorbar(scatter, ax=ax, label=name)
        else:
            ax.scatter(embedding.points[:, 0], embedding.points[:, 1], s=4)
        if len(panels) > 1:
            ax.set_title(f"colour: {name}", fontsize=10)
        _axes(ax, embedding.axis_labels)
    for ax in axes[max(1, len(panels)):]:
        ax.axis("off")
    if len(panels) > 1:
        fig.suptitle(embedding.title)  # once over the panels: one title per panel overlapped its neighbours
    else:  # a single factor is named in the title too, as each of several is in its panel's
        single_factor = panels and panels[0][0] != "class"
        axes[0].set_title(f"{embedding.title}, colour: {panels[0][0]}" if single_factor else embedding.title)
    return fig


def _class_panel(ax: Any, points: np.ndarray, labels: np.ndarray, data: Dataset) -> None:
    """The points coloured by class, the classes named in a legend beside the panel."""
    classes = np.unique(labels)
    palette = plt.cm.tab10 if len(classes) <= 10 else plt.cm.tab20
    for value in classes:
        mask = labels == value
        ax.scatter(points[mask, 0], points[mask, 1], s=4, color=palette(value % palette.N), label=data.class_name(int(value)))
    ax.legend(title="class", markerscale=3, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), ncol=1 + len(classes) // 26)


def _axes(ax: Any, axis_labels: tuple[str, str] | None) -> None:
    if axis_labels is None:  # t-SNE: the axes carry no meaning
        ax.set_xticks([])
        ax.set_yticks([])
    else:  # PCA and the code itself: one unit is as long on both axes
        ax.set_xlabel(axis_labels[0])
        ax.set_ylabel(axis_labels[1])
        ax.set_aspect("equal", adjustable="datalim")


def draw_latents(
    model: Autoencoder,
    data: Dataset,
    method: str,
    num_points: int,
    perplexity: float,
    seed: int,
    png_path: Path,
    writer: Any,
    step: int,
    batch_size: int,
    projector: bool = True,
    backend: str = "sklearn",
    max_iter: int | None = 1000,
) -> LatentEmbedding:
    """Encode the test split, embed and draw it; save `png_path`, add the figure to `writer` as
    `latent/<method>` and, with `projector`, the codes with their labels (and, for images,
    thumbnails as a sprite) as the projector embedding `test_codes`."""
    codes = encode_split(model, data.test, batch_size)
    embedding = embed_codes(codes, method, num_points, perplexity, seed, backend, max_iter)
    figure = latent_figure(embedding, data.test, data)
    # Atomic: a full disk leaves the previous picture (or none), never a truncated PNG.
    atomic_write(png_path, lambda handle: figure.savefig(handle, format="png", dpi=120))
    writer.add_figure(f"latent/{method}", figure, step)
    if projector:
        metadata, header = embedding_metadata(data.test, embedding.index, data)
        thumbnails = to_unit_range(data.test.batch(torch.as_tensor(embedding.index))) if data.kind == "image" else None
        add_projector_embedding(writer, embedding.codes, metadata, header, thumbnails, step)
    return embedding


MIN_TSNE_POINTS = 2  # a t-SNE of one code cannot be drawn (scikit-learn needs perplexity < points)


def latent_plot(experiment: Any, writer: Any, folder: Path, step: int) -> LatentEmbedding | None:
    """The end of `aecli train`: a t-SNE of the test codes (tsne.png) as `cfg.tsne` says, or for a
    2-D code the code itself (latent.png: a t-SNE of 2-D points adds nothing); None when the test
    split is too small for a t-SNE."""
    model, data, tsne = experiment.model, experiment.data, experiment.cfg.tsne
    method, png = ("scatter", "latent.png") if model.latent_dim == 2 else ("tsne", "tsne.png")
    if method == "tsne" and len(data.test) < MIN_TSNE_POINTS:  # t-SNE needs a neighbourhood to place each point in
        return None
    return draw_latents(
        model, data, method, tsne.num_points, float(tsne.perplexity), experiment.seed, folder / png, writer, step,
        experiment.eval_batch_size, projector=tsne.embedding_projector, backend=tsne.backend, max_iter=tsne.max_iter,
    )
