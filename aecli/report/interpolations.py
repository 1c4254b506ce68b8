"""Decoded interpolations: pairs of test samples, their codes joined by a straight line or a
great circle (slerp), and the decoder's output along the way.

The paths are plain NumPy (codes (L,) in, (steps, L) out); the picture is an image grid, one row
per pair with the two inputs at the ends, or one panel per pair for 1-D signals.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from aecli.data import Dataset
from aecli.likelihoods import Likelihood
from aecli.models import Autoencoder
from aecli.report.figures import image_grid, plt

# Below this sine of the angle between two codes the great circle through them is not
# defined well enough to follow (float64 round-off in the angle is ~1e-8 near 0 and pi).
_PARALLEL_SINE = 1e-7


def interpolate_codes(z_a: np.ndarray, z_b: np.ndarray, steps: int) -> np.ndarray:
    """`steps` codes evenly spaced on the straight line from z_a to z_b, (steps, L), endpoints
    included. z_a and z_b are single codes of L values."""
    z_a, z_b, fractions = _endpoints(z_a, z_b, steps)
    return _straight(z_a, z_b, fractions)


def slerp_codes(z_a: np.ndarray, z_b: np.ndarray, steps: int) -> np.ndarray:
    """`steps` codes on the spherical interpolation (slerp) from z_a to z_b, (steps, L),
    endpoints included.

    For codes from a Gaussian prior: the straight line's midpoint between two typical codes
    is shorter than either (in L dims typical codes have norm ~ sqrt(L)), a region the decoder
    rarely saw; slerp keeps the norm when |z_a| = |z_b| (White 2016, "Sampling generative
    networks"). With unequal norms it is the same formula on the raw vectors. Codes (nearly)
    parallel or opposite, or a zero code, have no well-defined great circle: the straight
    line is returned instead.
    """
    z_a, z_b, fractions = _endpoints(z_a, z_b, steps)
    norms = np.linalg.norm(z_a) * np.linalg.norm(z_b)
    angle = np.arccos(np.clip(z_a @ z_b / norms, -1.0, 1.0)) if norms > 0 else 0.0
    if np.sin(angle) < _PARALLEL_SINE:
        return _straight(z_a, z_b, fractions)
    return (np.sin((1.0 - fractions) * angle) * z_a + np.sin(fractions * angle) * z_b) / np.sin(angle)


def _straight(z_a: np.ndarray, z_b: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    return (1.0 - fractions) * z_a + fractions * z_b


def _endpoints(z_a: np.ndarray, z_b: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two codes as float64 (L,) rows and the fractions 0 ... 1 as a (steps, 1) column."""
    z_a, z_b = np.asarray(z_a, dtype=np.float64).reshape(-1), np.asarray(z_b, dtype=np.float64).reshape(-1)
    if z_a.shape != z_b.shape:
        raise ValueError(f"codes of different sizes: {z_a.size} and {z_b.size}")
    if steps < 2:
        raise ValueError(f"an interpolation needs steps >= 2 (both endpoints), got {steps}")
    return z_a, z_b, np.linspace(0.0, 1.0, steps)[:, None]


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
        index = torch.tensor([int(a), int(b)])
        x, y = data.test.batch(index), data.test.batch_labels(index)
        codes = model.encode(x, y).double().cpu().numpy()
        z = torch.as_tensor(path(codes[0], codes[1], steps), dtype=x.dtype, device=x.device)
        labels = None if y is None else y[:1].expand(len(z))  # a conditional model decodes at the first end's class
        rows.append((x, likelihood.mean(model.decode(z, y=labels))))
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
