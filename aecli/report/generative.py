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
    A conditional model's samples are one row per class (up to 20), each column one prior draw
    decoded at every class; its traversal and manifold are decoded at the class of the first test
    sample.
    Each shows the decoder's mean; a likelihood with a learned spread adds `<tag>_std`
    image grids (images only), where variance-MNIST keeps its digits. With `files`, each
    picture is also saved as samples.png, traversal.png and manifold.png.
    """
    model.eval()
    count = int(log_cfg.num_prior_samples)
    prior = model.sample_prior(count, torch.Generator().manual_seed(0))
    if prior is None:
        return
    device = prior.device
    latent_dim, r, steps = model.latent_dim, float(log_cfg.traversal_range), int(log_cfg.traversal_steps)
    values = torch.linspace(-r, r, steps, device=device)
    center = torch.cat([model.encode(x, y) for x, y in data.test.labelled_batches(4096)]).mean(0)
    traversal = center.repeat(latent_dim, steps, 1)  # (latent, step, latent_dim)
    for i in range(latent_dim):
        traversal[i, :, i] = values
    row_names = {"latent/traversal": [f"z{i}" for i in range(latent_dim)]}
    prior, sample_labels, class_rows = _by_class(model, data, prior, min(8, count))
    one_label = data.test.batch_labels(slice(0, 1)) if model.conditional else None
    if class_rows:
        row_names["samples/prior"] = class_rows
    decoded = {
        "samples/prior": _decode(model, likelihood, prior, sample_labels),
        "latent/traversal": _decode(model, likelihood, traversal.flatten(0, 1), one_label),
    }
    if latent_dim == 2:  # rows run from z1 = +range (top) to -range; columns over z0
        grid = torch.stack(torch.meshgrid(values.flip(0), values, indexing="ij")[::-1], dim=-1)
        decoded["latent/manifold"] = _decode(model, likelihood, grid.reshape(-1, 2), one_label)

    if data.kind == "image":
        row_length = {"samples/prior": min(8, count), "latent/traversal": steps, "latent/manifold": steps}
        _write_image_grids(writer, decoded, row_length, row_names, step, files)
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


def _write_image_grids(
    writer: Any, decoded: dict[str, tuple[Tensor, Tensor | None]], row_length: dict[str, int], row_names: dict[str, list[str]],
    step: int, files: PictureFiles | None,
) -> None:
    """Each decoded picture as an image grid of rows of `row_length[tag]`, the rows named where
    `row_names` says; a learned spread as `<tag>_std` beside it."""
    for tag, (mean, std) in decoded.items():
        grid = image_grid(list(mean.split(row_length[tag])))
        writer.add_image(tag, grid, step)
        if files is not None:
            files.save(PNG_NAMES[tag], grid_figure(grid, row_names.get(tag)), step)
        if std is not None:  # scaled by a high quantile: a few bright pixels would leave the rest black
            shown = (std / std.flatten().float().quantile(0.995).clamp_min(1e-8)).clamp(max=1.0)
            writer.add_image(f"{tag}_std", image_grid(list(shown.split(row_length[tag]))), step)


@torch.inference_mode()
def log_codebook_pictures(
    writer: Any, model: Autoencoder, likelihood: Likelihood, data: Dataset, step: int, files: PictureFiles | None = None,
    slots_shown: int = 10, codes_shown: int = 10,
) -> None:
    """A discrete code's codebook at work (a VQ-VAE's; nothing for other codes or non-image data):
    one row per slot (the first `slots_shown`), the first test sample's code with that slot set to
    each of the `codes_shown` codes the test split uses most, in order of their value (code_dim 1)
    or use (blank tiles where a slot uses fewer). TensorBoard's codebook/slots and codebook.png."""
    first, labels = data.test.batch(slice(0, 4096)), data.test.batch_labels(slice(0, 4096))
    model.eval()
    indices = model.bottleneck.indices(model.encoded(first, labels)) if data.kind == "image" and len(first) else None
    if indices is None:
        return
    codebook = model.bottleneck.codebook  # (slots, codes, code_dim)
    base = indices[0]
    rows = []
    for slot in range(min(slots_shown, indices.shape[1])):
        used = torch.bincount(indices[:, slot], minlength=codebook.shape[1])
        chosen = used.argsort(descending=True)[: min(codes_shown, int((used > 0).sum()))]
        if codebook.shape[2] == 1:
            chosen = chosen[codebook[slot, chosen, 0].argsort()]
        row = base.repeat(len(chosen), 1)
        row[:, slot] = chosen
        mean, _ = _decode(model, likelihood, model.bottleneck.lookup(row), None if labels is None else labels[:1])
        rows.append(mean)
    width = max(len(row) for row in rows)  # a slot that uses fewer codes gets blank tiles
    rows = [torch.cat([row, row.new_zeros(width - len(row), *row.shape[1:])]) for row in rows]
    grid = image_grid(rows)
    writer.add_image("codebook/slots", grid, step)
    if files is not None:
        files.save("codebook.png", grid_figure(grid, [f"slot {i}" for i in range(len(rows))]), step)


PNG_NAMES = {"samples/prior": "samples.png", "latent/traversal": "traversal.png", "latent/manifold": "manifold.png"}
MAX_CLASS_ROWS = 20  # a conditional model's samples.png: one row per class, up to this many


def _by_class(model: Autoencoder, data: Dataset, prior: Tensor, columns: int) -> tuple[Tensor, Tensor | None, list[str]]:
    """A conditional model's prior draws with the class each is decoded at, and the rows' names:
    for images one row per class (up to MAX_CLASS_ROWS), the same `columns` draws in every row;
    for signals the classes in turn. Anything else: the draws as they are, no labels."""
    if not model.conditional:
        return prior, None, []
    if data.kind != "image":
        return prior, torch.arange(len(prior), device=prior.device) % model.classes, []
    classes = min(model.classes, MAX_CLASS_ROWS)
    rows = prior[:columns].repeat(classes, 1)
    labels = torch.arange(classes, device=prior.device).repeat_interleave(columns)
    return rows, labels, [data.class_name(c) for c in range(classes)]


def _decode(model: Autoencoder, likelihood: Likelihood, z: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """The decoder's mean and spread for codes `z`; a conditional model's at `labels` (one, or one per code)."""
    if labels is not None and len(labels) == 1:
        labels = labels.expand(len(z))
    output = model.decode(z, y=labels)
    return likelihood.mean(output), likelihood.std(output)
