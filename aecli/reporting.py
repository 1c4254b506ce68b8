"""What a run shows in TensorBoard: reconstruction pictures and, for VAE runs, samples from
the prior, latent traversals and the 2-D manifold (latent plots live in aecli.latents)."""

from __future__ import annotations

import math
from typing import Any

import matplotlib

matplotlib.use("Agg")  # figures are rendered to files and TensorBoard, never to a screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from aecli.data import Dataset  # noqa: E402
from aecli.errors import UserError  # noqa: E402
from aecli.likelihoods import Likelihood  # noqa: E402
from aecli.models import Autoencoder  # noqa: E402


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


def check_picture_settings(log_cfg: Any) -> None:
    """Reject picture settings that cannot work, before any training."""
    value = log_cfg.traversal_range
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
        raise UserError(f"log.traversal_range must be a number > 0 (latents sweep [-range, range]), got {value!r}")
    for key, least in (("traversal_steps", 2), ("num_prior_samples", 1)):
        value = log_cfg[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise UserError(f"log.{key} must be an integer >= {least}, got {value!r}")


@torch.inference_mode()
def log_vae_pictures(
    writer: Any, model: Autoencoder, likelihood: Likelihood, data: Dataset, log_cfg: Any, step: int
) -> None:
    """Write a VAE's generative pictures to TensorBoard.

    samples/prior: decoded draws z ~ N(0, I) (fixed seed). latent/traversal: latent i swept
    over linspace(-range, range, steps) while the others stay at the mean of the test codes.
    latent/manifold (latent_dim = 2 only): the decoder over the grid [-range, range]^2.
    Each shows the decoder's mean; a likelihood with a learned spread adds `<tag>_std`
    image grids (images only), where variance-MNIST keeps its digits.
    """
    model.eval()
    device = next(model.parameters()).device
    latent_dim, r, steps = model.latent_dim, float(log_cfg.traversal_range), int(log_cfg.traversal_steps)
    values = torch.linspace(-r, r, steps, device=device)
    generator = torch.Generator().manual_seed(0)
    prior = torch.randn(int(log_cfg.num_prior_samples), latent_dim, generator=generator).to(device)
    center = torch.cat([model.encode(chunk) for chunk in data.test.x.split(4096)]).mean(0)
    traversal = center.repeat(latent_dim, steps, 1)  # (latent, step, latent_dim)
    for i in range(latent_dim):
        traversal[i, :, i] = values
    decoded = {
        "samples/prior": _decode(model, likelihood, prior),
        "latent/traversal": _decode(model, likelihood, traversal.flatten(0, 1)),
    }
    if latent_dim == 2:  # rows run from z2 = +range (top) to -range; columns over z1
        grid = torch.stack(torch.meshgrid(values.flip(0), values, indexing="ij")[::-1], dim=-1)
        decoded["latent/manifold"] = _decode(model, likelihood, grid.reshape(-1, 2))

    if data.kind == "image":
        row_length = {"samples/prior": min(8, len(prior)), "latent/traversal": steps, "latent/manifold": steps}
        for tag, (mean, std) in decoded.items():
            writer.add_image(tag, image_grid(list(mean.split(row_length[tag]))), step)
            if std is not None:  # scaled by a high quantile: a few bright pixels would leave the rest black
                shown = (std / std.flatten().float().quantile(0.995).clamp_min(1e-8)).clamp(max=1.0)
                writer.add_image(f"{tag}_std", image_grid(list(shown.split(row_length[tag]))), step)
        return
    curves = {tag: data.denormalize(mean).cpu() for tag, (mean, _) in decoded.items()}
    axis = data.axis.cpu().numpy()
    writer.add_figure("samples/prior", curves_figure(axis, curves["samples/prior"], data.axis_name), step)
    figure = traversal_figure(axis, curves["latent/traversal"].reshape(latent_dim, steps, -1), values.cpu(), data.axis_name)
    writer.add_figure("latent/traversal", figure, step)
    if "latent/manifold" in curves:
        writer.add_figure("latent/manifold", manifold_figure(curves["latent/manifold"].reshape(steps, steps, -1), values.cpu()), step)


def _decode(model: Autoencoder, likelihood: Likelihood, z: Tensor) -> tuple[Tensor, Tensor | None]:
    output = model.decode(z)
    return likelihood.mean(output), likelihood.std(output)


def curves_figure(axis: np.ndarray, curves: Tensor, axis_name: str) -> plt.Figure:
    """Decoded prior samples of a 1-D signal, overlaid in one panel."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for curve in curves.numpy():
        ax.plot(axis, curve, lw=1.0, alpha=0.8)
    ax.set_xlabel(axis_name)
    ax.set_ylabel("value")
    ax.set_title(f"{len(curves)} samples from the prior N(0, I)")
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
        ax.set_title(f"latent {i}")
        if i >= latent_dim - cols:
            ax.set_xlabel(axis_name)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="coolwarm"), ax=axes, label="latent value", shrink=0.9)
    return fig


def manifold_figure(curves: Tensor, values: Tensor) -> plt.Figure:
    """The decoded signal at every point of a 2-D latent grid, one small curve per cell
    (rows: z2 from high to low; columns: z1 from low to high), on a common vertical scale."""
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
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title("decoder over the latent grid")
    ax.set_xlim(0, steps)
    ax.set_ylim(0, steps)
    fig.tight_layout()
    return fig


@torch.inference_mode()
def log_atoms(writer: Any, dictionary: Tensor, data: Dataset, step: int, max_atoms: int = 100) -> None:
    """A dictionary's atoms (the columns of `dictionary`, (data dimensions, atoms)) in TensorBoard
    under `dictionary/atoms`: images in rows of 10, each scaled by its own min and max, for image
    data; overlaid curves (at most 16, one panel each) for 1-D data."""
    atoms = dictionary.T[:max_atoms].float().cpu()  # (atoms, data dimensions)
    if data.kind == "image":
        low = atoms.min(1, keepdim=True).values
        high = atoms.max(1, keepdim=True).values
        images = ((atoms - low) / (high - low).clamp_min(1e-8)).reshape(-1, *data.sample_shape)
        per_row = min(10, len(images))
        rows = [images[i : i + per_row] for i in range(0, len(images) - len(images) % per_row, per_row)]
        writer.add_image("dictionary/atoms", image_grid(rows), step)
        return
    shown = atoms[:16]
    cols = min(4, len(shown))
    rows = -(-len(shown) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.8 * cols, 2.0 * rows), squeeze=False, sharex=True, sharey=True)
    axis = data.axis.cpu().numpy() if data.axis is not None else np.arange(shown.shape[1])
    for i, ax in enumerate(axes.flat):
        if i >= len(shown):
            ax.axis("off")
            continue
        ax.plot(axis, shown[i].numpy(), color="tab:blue", lw=1.2)
        ax.axhline(0.0, color="0.7", lw=0.6)
        ax.set_title(f"atom {i}", fontsize=8)
    fig.suptitle(f"{len(shown)} of {dictionary.shape[1]} atoms (unit norm)", fontsize=9)
    fig.tight_layout()
    writer.add_figure("dictionary/atoms", fig, step)
