"""Pictures of what a model learned and what its codes do: the anomaly ROC, the first layer's
filters, and decoded interpolations between test codes. Each is built once and written both
to TensorBoard and to a PNG file in the run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from aecli.data import Dataset
from aecli.evaluation.anomaly import interpolate_codes, slerp_codes
from aecli.likelihoods import Likelihood
from aecli.models import Autoencoder
from aecli.report.figures import image_grid, plt, scaled_rows, signal_panels

PNG_SIDE = 120  # a PNG's shorter side is enlarged to at least this many pixels (a row of 3 x 3 kernels)


def roc_figure(anomaly: Any) -> plt.Figure:
    """The ROC of an `aecli.evaluation.downstream.Anomaly`, with the chance diagonal."""
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    ax.plot(anomaly.false_positive_rate, anomaly.true_positive_rate, color="tab:red", lw=1.6,
            label=f"{anomaly.score_name}, AUROC {anomaly.auroc:.3f}")
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--", label="chance")
    ax.set_xlabel("false positive rate (normal test samples flagged)")
    ax.set_ylabel("true positive rate (anomalies flagged)")
    ax.set_title(f"classes {', '.join(map(str, anomaly.classes))} left out of training", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_aspect("equal")
    fig.tight_layout()
    return fig


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
def interpolation_picture(
    model: Autoencoder, likelihood: Likelihood, data: Dataset, pairs: int, steps: int, method: str, seed: int,
) -> Tensor | plt.Figure | None:
    """`pairs` fixed-seed pairs of test samples, their codes joined by `steps` codes (straight
    line or slerp) and decoded: an image grid, one row per pair, the two inputs at the ends;
    one panel per pair for 1-D signals. None when there are fewer than two test samples or the
    decoder needs the input itself (model.input_gain)."""
    if len(data.test) < 2 or pairs < 1 or model.input_gain:
        return None
    model.eval()
    generator = np.random.default_rng(seed)
    ends = [generator.choice(len(data.test), size=2, replace=False) for _ in range(pairs)]
    path = slerp_codes if method == "slerp" else interpolate_codes
    rows = []
    for a, b in ends:
        x = data.test.batch(torch.tensor([int(a), int(b)]))
        codes = model.encode(x).double().cpu().numpy()
        z = torch.as_tensor(path(codes[0], codes[1], steps), dtype=x.dtype, device=x.device)
        rows.append((x, likelihood.mean(model.decode(z))))
    if data.kind == "image":
        return image_grid([torch.cat([x[:1], decoded, x[1:]]) for x, decoded in rows])
    return _interpolation_curves(data, rows, method)


def _interpolation_curves(data: Dataset, rows: list[tuple[Tensor, Tensor]], method: str) -> plt.Figure:
    axis = data.axis.cpu().numpy()
    cols = min(3, len(rows))
    fig, axes = plt.subplots(-(-len(rows) // cols), cols, figsize=(3.4 * cols, 2.6 * -(-len(rows) // cols)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(rows):
            ax.axis("off")
            continue
        x, decoded = (data.denormalize(t).cpu().numpy() for t in rows[i])
        for j, curve in enumerate(decoded):
            ax.plot(axis, curve, color=plt.cm.viridis(j / max(1, len(decoded) - 1)), lw=1.0)
        ax.plot(axis, x[0], color="k", ls=":", lw=1.0)
        ax.plot(axis, x[1], color="k", ls="--", lw=1.0)
        ax.set_title(f"pair {i + 1}", fontsize=8)
    fig.suptitle(f"decoded {method} interpolations (dotted: start, dashed: end)", fontsize=9)
    fig.tight_layout()
    return fig


def write_picture(writer: Any, tag: str, picture: Tensor | plt.Figure, png: Path, step: int) -> None:
    """`picture` to TensorBoard under `tag` and to `png`: an image grid (C, H, W) in [0, 1],
    enlarged for the file so that small filters stay visible, or a matplotlib figure."""
    if isinstance(picture, Tensor):
        scale = max(1, -(-PNG_SIDE // min(picture.shape[1:])))  # ceil: the shorter side reaches PNG_SIDE
        enlarged = picture.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
        image = enlarged[0].numpy() if enlarged.shape[0] == 1 else enlarged.permute(1, 2, 0).numpy()
        plt.imsave(png, image, cmap="gray", vmin=0.0, vmax=1.0)
        writer.add_image(tag, picture, step)
        return
    picture.savefig(png, dpi=120)
    writer.add_figure(tag, picture, step)
