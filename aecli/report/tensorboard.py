"""What a run shows in TensorBoard: reconstructions, a generative model's samples from the prior,
latent traversals and 2-D manifold, and the model's learned filters (latent plots: latents.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from aecli.data import Dataset
from aecli.engine.steps import reconstruct
from aecli.likelihoods import Likelihood
from aecli.models import Autoencoder
from aecli.report.downstream import filters_picture, roc_figure, write_picture
from aecli.report.figures import (
    curves_figure, grid_figure, image_grid, manifold_figure, plt, signal_figure, traversal_figure,
)
from aecli.runs.store import atomic_write


@dataclass
class PictureFiles:
    """Where the closing pictures also go as PNG files, titled with the run's name and the epoch."""

    folder: Path
    run_name: str

    def save(self, name: str, figure: plt.Figure, step: int) -> None:
        # Above the axes (y > 1): savefig's tight bounding box grows to hold it, whatever the layout.
        figure.suptitle(f"{self.run_name}, epoch {step}", fontsize=9, y=1.02)
        try:
            atomic_write(self.folder / name, lambda handle: figure.savefig(handle, format="png", bbox_inches="tight"))
        finally:
            plt.close(figure)


def log_reconstructions(
    writer: Any, model: Autoencoder, likelihood: Likelihood, data: Dataset, x: Tensor, tag: str, step: int,
    files: PictureFiles | None = None,
) -> None:
    """Inputs beside their reconstructions: an image grid (images) or one panel per signal; also
    reconstructions.png when `files` says where."""
    recon = reconstruct(model, likelihood, x)
    if data.kind == "image":
        grid = image_grid([x, recon])
        writer.add_image(tag, grid, step)
        if files is not None:
            files.save("reconstructions.png", grid_figure(grid, ["input", "output"]), step)
        return
    figure = signal_figure(data.axis, data.denormalize(x), data.denormalize(recon), data.axis_name)
    if files is not None:
        files.save("reconstructions.png", figure, step)  # before TensorBoard, which closes the figure
        figure = signal_figure(data.axis, data.denormalize(x), data.denormalize(recon), data.axis_name)
    writer.add_figure(tag, figure, step)


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


@torch.inference_mode()
def log_filters(writer: Any, model: Autoencoder, data: Dataset, step: int, max_filters: int = 100) -> None:
    """The model's learned filters (`Autoencoder.filters`: a first layer's weights, a
    dictionary's atoms) under their tag, drawn by aecli.report.downstream.filters_picture."""
    found = filters_picture(model, data, max_filters)
    if found is None:
        return
    tag, picture = found
    if isinstance(picture, Tensor):
        writer.add_image(tag, picture, step)
    else:
        writer.add_figure(tag, picture, step)


def log_evaluation(writer: Any, evaluation: Any, report: str, step: int, run_dir: Any) -> None:
    """The evaluate report as one text entry at `step` (TensorBoard's Text view), not as a
    single-point scalar card per figure ahead of the loss curves (the figures are in
    metrics.json); where classes were left out of training, the ROC as `evaluate/roc` and
    `run_dir`/roc.png."""
    writer.add_text("evaluate", "\n".join(f"    {line}" for line in report.splitlines()), step)
    if evaluation.anomaly is not None:
        write_picture(writer, "evaluate/roc", roc_figure(evaluation.anomaly), run_dir / "roc.png", step)


@contextmanager
def quiet_writer_thread_failures() -> Iterator[None]:
    """Inside the `with`, a failed write in TensorBoard's background writer thread (a full
    disk) prints no thread traceback: the writer keeps the exception and raises it again in
    the caller's next add_*/flush/close, where the command turns it into one line. Other
    threads' exceptions are printed as usual."""
    previous = threading.excepthook
    writer_thread = tensorboard_writer_thread_class()

    def hook(args: Any) -> None:
        if not (isinstance(args.exc_value, OSError) and isinstance(args.thread, writer_thread)):
            previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous



def tensorboard_writer_thread_class() -> type:
    """TensorBoard's background writer thread class: private, so named in this one place, and
    tests/e2e/test_disk_failures.py fails loudly when TensorBoard renames it or stops keeping
    the thread's exception for the caller."""
    from tensorboard.summary.writer.event_file_writer import _AsyncWriterThread

    return _AsyncWriterThread



def log_finetuning(writer: Any, comparison: Any) -> None:
    """`aecli finetune`'s curves, per epoch: finetune/<N>/<pretrained|scratch>/train_loss (nats
    per sample) and val_acc, and each network's test accuracy at its best epoch."""
    for name in ("pretrained", "scratch"):
        result = getattr(comparison, name)
        prefix = f"finetune/{comparison.labels}/{name}"
        for epoch, (loss, accuracy) in enumerate(zip(result.train_loss, result.val_acc), start=1):
            writer.add_scalar(f"{prefix}/train_loss", loss, epoch)
            writer.add_scalar(f"{prefix}/val_acc", accuracy, epoch)
        writer.add_scalar(f"{prefix}/test_acc", result.test_acc, result.best_epoch)
