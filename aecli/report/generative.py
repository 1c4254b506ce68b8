"""A generative model's pictures: decoded draws from the prior, latent traversals and, for a 2-D
code, the decoder over a latent grid (nothing for a model without a prior)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from aecli.data import Dataset
from aecli.likelihoods import Likelihood
from aecli.models import Autoencoder
from aecli.report.figures import curves_figure, grid_figure, image_grid, manifold_figure, traversal_figure
from aecli.report.pictures import PictureFiles


@torch.inference_mode()
def log_generative_pictures(
    writer: Any, model: Autoencoder, likelihood: Likelihood, data: Dataset, log_cfg: Any, step: int,
    files: PictureFiles | None = None,
) -> None:
    """Write a generative model's pictures to TensorBoard (nothing for a model without a prior).

    samples/prior: decoded draws from the prior (fixed seed). latent/traversal: latent i swept
    over linspace(-range, range, steps) while the others stay at the mean of the test codes.
    latent/manifold (latent_dim = 2 only): the decoder over the grid [-range, range]^2.
    Each shows the decoder's mean; a likelihood with a learned spread adds `<tag>_std`
    image grids (images only), where variance-MNIST keeps its digits. With `files`, each
    picture is also saved as samples.png, traversal.png and manifold.png.
    """
    model.eval()
    prior = model.sample_prior(int(log_cfg.num_prior_samples), torch.Generator().manual_seed(0))
    if prior is None:
        return
    device = prior.device
    latent_dim, r, steps = model.latent_dim, float(log_cfg.traversal_range), int(log_cfg.traversal_steps)
    values = torch.linspace(-r, r, steps, device=device)
    center = torch.cat([model.encode(chunk) for chunk in data.test.batches(4096)]).mean(0)
    traversal = center.repeat(latent_dim, steps, 1)  # (latent, step, latent_dim)
    for i in range(latent_dim):
        traversal[i, :, i] = values
    decoded = {
        "samples/prior": _decode(model, likelihood, prior),
        "latent/traversal": _decode(model, likelihood, traversal.flatten(0, 1)),
    }
    if latent_dim == 2:  # rows run from z1 = +range (top) to -range; columns over z0
        grid = torch.stack(torch.meshgrid(values.flip(0), values, indexing="ij")[::-1], dim=-1)
        decoded["latent/manifold"] = _decode(model, likelihood, grid.reshape(-1, 2))

    if data.kind == "image":
        row_length = {"samples/prior": min(8, len(prior)), "latent/traversal": steps, "latent/manifold": steps}
        for tag, (mean, std) in decoded.items():
            grid = image_grid(list(mean.split(row_length[tag])))
            writer.add_image(tag, grid, step)
            if files is not None:
                labels = {"latent/traversal": [f"z{i}" for i in range(latent_dim)]}.get(tag)
                files.save(PNG_NAMES[tag], grid_figure(grid, labels), step)
            if std is not None:  # scaled by a high quantile: a few bright pixels would leave the rest black
                shown = (std / std.flatten().float().quantile(0.995).clamp_min(1e-8)).clamp(max=1.0)
                writer.add_image(f"{tag}_std", image_grid(list(shown.split(row_length[tag]))), step)
        return
    curves = {tag: data.denormalize(mean).cpu() for tag, (mean, _) in decoded.items()}
    axis = data.axis.cpu().numpy()
    draw = {
        "samples/prior": lambda: curves_figure(axis, curves["samples/prior"], data.axis_name),
        "latent/traversal": lambda: traversal_figure(
            axis, curves["latent/traversal"].reshape(latent_dim, steps, -1), values.cpu(), data.axis_name),
        "latent/manifold": lambda: manifold_figure(curves["latent/manifold"].reshape(steps, steps, -1), values.cpu()),
    }
    for tag in curves:
        writer.add_figure(tag, draw[tag](), step)
        if files is not None:
            files.save(PNG_NAMES[tag], draw[tag](), step)


PNG_NAMES = {"samples/prior": "samples.png", "latent/traversal": "traversal.png", "latent/manifold": "manifold.png"}


def _decode(model: Autoencoder, likelihood: Likelihood, z: Tensor) -> tuple[Tensor, Tensor | None]:
    output = model.decode(z)
    return likelihood.mean(output), likelihood.std(output)
