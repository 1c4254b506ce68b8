"""One batch through a model: the named loss terms of a training step, and the passes that
evaluation, pictures and plots share (whole splits in large batches; corrupted only for a
denoising run's validation objective, from a fixed seed)."""

from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import Tensor

from aecli.data import Split
from aecli.engine.distributed import SINGLE, World, sum_over_ranks
from aecli.engine.rng import seeded_draws
from aecli.likelihoods import Likelihood
from aecli.models import Autoencoder, Forward
from aecli.regularizers import Regularizer


def loss_terms(
    model: Autoencoder,
    likelihood: Likelihood,
    regularizers: list[Regularizer],
    x: Tensor,
    y: Tensor | None = None,
    corrupt: bool = True,
    forward_with: torch.nn.Module | None = None,
) -> tuple[dict[str, Tensor], Forward]:
    """Named loss terms for one batch, each averaged over the batch; "total" is their sum.

    "recon" is the likelihood's negative log-likelihood of the clean `x`: nats per sample,
    summed over the data dimensions. With `corrupt` (training) the encoder sees `x` after
    every regularizer's corruption; the model's own terms (`Autoencoder.penalty`: sparse
    coding's `l1`) and each regularizer's penalties follow under their own names.
    After "total" come figures logged like the terms but never optimized: "recon_sse" (the squared
    error of the decoder's mean against the clean `x`, per sample) and the model's and regularizers'
    diagnostics (e.g. the VAE's KL per latent). `y`: the batch's labels, which a conditional model
    takes (every other ignores them). `forward_with`: what the pass runs through, when not the model
    itself (a distributed run's DistributedDataParallel wrapper of it).
    """
    x_in = corrupted(regularizers, x) if corrupt else x
    forward = (forward_with or model)(x_in, y)
    terms = {"recon": likelihood.nll(forward.output, x).mean(), **model.penalty(x_in, forward)}
    for regularizer in regularizers:
        terms.update(regularizer.penalty(model, x_in, forward))
    terms["total"] = sum(terms.values())
    with torch.no_grad():
        # The per-sample sums' batch mean, in one fused kernel (a third of the time of sub, pow, sum, mean).
        terms["recon_sse"] = F.mse_loss(likelihood.mean(forward.output).reshape(x.shape), x, reduction="sum") / len(x)
        terms.update(model.diagnostics(x_in, forward))
        for regularizer in regularizers:
            terms.update(regularizer.diagnostics(model, x_in, forward))
    return terms, forward


def corrupted(regularizers: list[Regularizer], x: Tensor) -> Tensor:
    """`x` after every regularizer's training corruption, in turn (the encoder's training input)."""
    for regularizer in regularizers:
        x = regularizer.corrupt(x)
    return x


def squared_error(reconstruction: Tensor, x: Tensor) -> Tensor:
    """Per-sample squared error, summed over the data dimensions, shape (B,)."""
    return (reconstruction - x).pow(2).flatten(1).sum(1)


def evaluate_split(
    model: Autoencoder,
    likelihood: Likelihood,
    regularizers: list[Regularizer],
    split: Split,
    batch_size: int,
    corruption_seed: int | None = None,
    world: World = SINGLE,
) -> dict[str, float]:
    """Every loss term on a whole split, `recon_sse` included, in large batches, under inference mode (plain no_grad
    when a regularizer's penalty differentiates the encoder, e.g. contractive). In a distributed
    run (`world`) each rank scores its rows and the sums are summed over the ranks: exact means
    over every sample, not a mean of the ranks' means.

    The input is clean, unless `corruption_seed` is given and a regularizer corrupts the input
    (denoising): then the encoder sees the training corruption, drawn from that seed (the same
    draws at every call, and the global generators restored after), so the figures are the
    training objective on held-out data, the one to pick a checkpoint by; the loss still
    compares with the clean input. With `corruption_seed` a VAE's draws of z come from that seed
    too, so best.pt's validation loss read again after training is the one its epoch logged."""
    model.eval()
    inference = not any(r.needs_grad for r in regularizers)
    corrupt = corruption_seed is not None and any(r.corrupts_input for r in regularizers)
    sums: dict[str, Tensor] = {}
    seeded = corruption_seed is not None and (corrupt or model.variational)  # a VAE's draws of z too
    draws = seeded_draws(corruption_seed + world.rank * 7_919) if seeded else nullcontext()
    own = split.rows(world.rows(len(split))) if world.distributed else split
    with torch.no_grad(), torch.inference_mode(inference), draws:
        for x, y in own.labelled_batches(batch_size):
            terms, _ = loss_terms(model, likelihood, regularizers, x, y, corrupt=corrupt)
            for key, value in terms.items():
                sums[key] = sums.get(key, 0) + value * len(x)
        totals = torch.stack([value.float() for value in sums.values()])
    if world.distributed:
        totals = sum_over_ranks(totals.clone())  # a copy made outside inference mode, which the collective may write
    means = (totals / len(split)).tolist()  # one host sync
    return dict(zip(sums, means))


@torch.inference_mode()
def encode_split(model: Autoencoder, split: Split, batch_size: int) -> Tensor:
    """The deterministic codes (the VAE's posterior mean) of a whole split, (N, latent_dim)."""
    model.eval()
    return torch.cat([model.encode(x, y) for x, y in split.labelled_batches(batch_size)])


@torch.inference_mode()
def reconstruct(model: Autoencoder, likelihood: Likelihood, x: Tensor, y: Tensor | None = None) -> Tensor:
    """The decoder's mean for the deterministic code of `x` (the posterior mean for a VAE); a
    conditional model's labels `y` go to both halves."""
    model.eval()
    return likelihood.mean(model.decode(model.encode(x, y), x, y))


@torch.inference_mode()
def reconstruction_nll(model: Autoencoder, likelihood: Likelihood, split: Split, batch_size: int) -> Tensor:
    """The reconstruction loss of each sample of `split` from its deterministic code: the
    likelihood's negative log-likelihood, nats per sample, (N,)."""
    model.eval()
    return torch.cat([
        likelihood.nll(model.decode(model.encode(x, y), x, y), x) for x, y in split.labelled_batches(batch_size)
    ])


def reconstruction_sse(model: Autoencoder, likelihood: Likelihood, split: Split, batch_size: int) -> float:
    """Squared error between each sample and `reconstruct` of it, summed over the data
    dimensions, averaged over the split."""
    total = 0.0
    for x, y in split.labelled_batches(batch_size):
        total += squared_error(reconstruct(model, likelihood, x, y), x).sum().item()
    return total / len(split)
