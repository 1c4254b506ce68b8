"""Batch norm's population statistics, recomputed before each validation ("precise BN").

During training each batch-norm layer keeps running averages of its batches' means and
variances (momentum 0.1: the last few dozen batches, of a model that moved under each of
them). Evaluation uses those averages, so the validation loss of an epoch carries their noise,
and a best.pt chosen by it is chosen partly by that noise. Before each validation the trainer
instead averages the statistics of `trainer.bn_stats_samples` training samples, in batches of
the training size, seen as in training (the dataset's training draw and every corruption), from
a seeded draw that leaves the training sequence untouched (Wu & Johnson 2021, "Rethinking
'Batch' in BatchNorm"; docs/experiments.md measures it on variance_mnist_dae).
"""

from __future__ import annotations

import torch
from torch import nn

from aecli.data import Dataset
from aecli.engine.rng import seeded_draws
from aecli.engine.steps import corrupted
from aecli.errors import UserError
from aecli.models import Autoencoder
from aecli.regularizers import Regularizer


BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)  # torch's public batch-norm layers


def batch_norm_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, BATCH_NORMS) and m.track_running_stats]


def check_last_batch(model: nn.Module, num_train: int, batch_size: int, ranks: int = 1) -> None:
    """A fully connected batch norm cannot normalize a batch of one sample (it has no variance),
    and no rank of a distributed run can take an empty slice: refuse, with the fix, a training
    split whose last batch would be that small."""
    last = num_train % batch_size or batch_size
    if ranks > 1 and min(batch_size, last) < ranks:
        raise UserError(
            f"trainer.devices={ranks} cuts every batch into {ranks} slices, but the last batch of {num_train} training "
            f"samples in batches of {batch_size} holds {last}; set trainer.batch_size to a size whose last batch holds at "
            f"least {ranks} (e.g. {batch_size + 1})"
        )
    batch_norm = any(isinstance(m, nn.BatchNorm1d) for m in model.modules())
    if ranks > 1 and batch_norm and min(batch_size, last) // ranks == 1:
        raise UserError(
            f"batch norm cannot train on a slice of one sample: trainer.devices={ranks} cuts the last batch of {last} "
            f"samples that small; set trainer.batch_size={batch_size + 1} (or another size)"
        )
    if num_train % batch_size == 1 and num_train > 1 and batch_norm:
        raise UserError(
            f"batch norm cannot train on the last batch of {num_train} training samples in batches of {batch_size}: "
            f"it holds one sample, which has no variance; set trainer.batch_size={batch_size + 1} (or another size)"
        )


@torch.no_grad()
def recompute_batch_norm(
    model: Autoencoder,
    data: Dataset,
    regularizers: list[Regularizer],
    batch_size: int,
    samples: int | None,
    seed: int,
) -> int:
    """Replace every batch-norm layer's running mean and variance with the average over batches
    of `samples` training samples (all of them when there are fewer); the number of samples
    used, 0 when the model has no batch norm or `samples` is null or 0."""
    layers = batch_norm_layers(model)
    if not layers or not samples:
        return 0
    momenta = [layer.momentum for layer in layers]
    was_training = model.training
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average over the batches below
    model.train()
    count = min(int(samples), len(data.train))
    try:
        with seeded_draws(seed):
            order = torch.randperm(len(data.train))[:count]
            for index in order.split(batch_size):
                if len(index) < 2 and count > 1:
                    continue  # a batch of one has no variance (a last, partial batch)
                model(corrupted(regularizers, data.training_batch(data.train.batch(index))))
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        model.train(was_training)
    return count
