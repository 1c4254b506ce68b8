"""The regularizer interface: what keeps an autoencoder from learning the identity.

A regularizer may corrupt the training input (`corrupt`) and/or add named penalty
terms to the loss (`penalty`); every term is logged under its own name. Regularizers
compose: `regularizer=[denoising,sparse_kl]` applies each corruption in turn and
adds every penalty. Two optional hooks: `start_epoch` (for schedules such as a
warm-up) and `diagnostics` (named figures logged beside the loss, never optimized).
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig
from torch import Tensor

from aecli.data import Dataset, Split
from aecli.likelihoods import Likelihood
from aecli.models import Autoencoder, Bottleneck, Forward


class Regularizer:
    name: str = ""
    needs_grad: bool = False  # True: the penalty differentiates the model, so evaluation cannot run in inference mode
    bottleneck: type[Bottleneck] | None = None  # the code layer this term needs (a VAE's KL needs a Gaussian one)
    code_activation: str | None = None  # the code activation this term needs (sparse_kl: sigmoid); brought when the model's is null
    corrupts_input: bool = False  # True: `corrupt` changes the input, so validation applies it too (a seeded draw)
    on_screen: tuple[str, ...] = ()  # diagnostics the epoch line prints beside the losses (the VQ's codebook perplexity)

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg
        self.likelihood: Any = None  # the run's likelihood, set when the experiment is built (terms that decode: the IWAE bound)

    def make_bottleneck(self, latent_dim: int) -> Bottleneck:
        """The code layer this term needs (`bottleneck`), for a code of `latent_dim` values."""
        assert self.bottleneck is not None
        return self.bottleneck()

    def corrupt(self, x: Tensor) -> Tensor:
        """The input the encoder sees during training (and at validation, drawn from a fixed seed,
        when `corrupts_input`; never at evaluation)."""
        return x

    def penalty(self, model: Autoencoder, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        """Named, already weighted penalty terms for one batch, each a scalar averaged over the batch.

        x: the input the encoder saw (after any corruption); forward: the model's pass on it.
        """
        return {}

    def diagnostics(self, model: Autoencoder, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        """Named scalars, averaged over the batch, logged beside the loss terms (train/, val/,
        test/ and metrics.json) but not added to the loss; computed without gradients."""
        return {}

    def start_epoch(self, epoch: int) -> None:
        """Called by the trainer before each training epoch (1-based), e.g. to step a schedule."""

    def check(self, model: Autoencoder, data: Dataset) -> None:
        """Raise a UserError, before training, when this regularizer cannot work here."""

    def evaluate(self, model: Autoencoder, likelihood: Likelihood, split: Split, settings: Any, batch_size: int) -> dict[str, float]:
        """Figures of a trained model that only this term gives meaning to (the VAE's bounds),
        for `aecli evaluate`; `settings` is the evaluate config."""
        return {}

    def anomaly_scores(
        self, model: Autoencoder, likelihood: Likelihood, split: Split, settings: Any, batch_size: int
    ) -> tuple[str, Tensor] | None:
        """(name, per-sample scores (N,)) of `split`, higher = more anomalous, where this term
        defines a better score than the reconstruction loss (the VAE: its negative ELBO), for
        `aecli evaluate`'s anomaly_auroc; None leaves the reconstruction loss."""
        return None
