"""VQ-VAE (van den Oord et al. 2017): the code layer snaps each slot of the encoder's output to the
nearest of `codes` learned vectors (its codebook), and the loss gains the codebook and commitment
terms.

The encoder's latent_dim values form latent_dim / code_dim slots of `code_dim` values; each slot is
replaced by the nearest vector e_k of its own codebook (squared distance). A flat code's slots are
not interchangeable (the paper shares one codebook among the positions of a feature map, which
are), so each slot has its own `codes` vectors, as in tilman151/ae_bakeoff's VQ bottleneck.
The decoder sees the quantized code, and the gradient passes from it to the encoder unchanged (the
straight-through estimator: z_q = z_e + stop_gradient(e_k - z_e)). Terms, per sample (summed over
the code's values, averaged over the batch):

    vq_codebook   = || stop_gradient(z_e) - z_q ||^2     (moves the codebook; left out with ema)
    vq_commitment = beta || z_e - stop_gradient(z_q) ||^2   (keeps the encoder near its codes; beta 0.25)

The codebook starts at encodings of the first training batch. With `ema: true` it is not trained by
the loss but follows exponential moving averages of the encodings assigned to each code (decay
`ema_decay`, Laplace smoothing), as in the paper's appendix. A code no slot has chosen for
`restart_after` training steps is dead: it is restarted at an encoding of the current batch. Figures: `codebook_perplexity` (exp of the entropy of the codes'
use: `codes` when all are used evenly, 1 when one takes all) and `codebook_usage` (the share of the
codes used), per batch while training and over the test split in `aecli evaluate`.

A VQ-VAE has no prior over its code indices (that takes a second, autoregressive model, not part of
aecli), so it draws no prior samples, and `run.sample()` says so.
"""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig
from torch import Tensor, nn

from aecli.config.schema import Bool, Float, Int
from aecli.data import Split
from aecli.errors import UserError
from aecli.likelihoods import Likelihood
from aecli.models import Autoencoder, Bottleneck, Forward
from aecli.regularizers import REGULARIZERS
from aecli.regularizers.base import Regularizer

SETTINGS = {
    "codes": Int(min=2),
    "code_dim": Int(min=1),
    "beta": Float(min=0, requirement="be a number >= 0 (the commitment weight; 0.25 in the paper)"),
    "ema": Bool(),
    "ema_decay": Float(min=0, max=1, min_open=True, max_open=True),
    "restart_after": Int(min=1, nullable=True, requirement="be a positive number of training steps, or null (never)"),
}


class VectorQuantizer(Bottleneck):
    """The code layer: slot s of `code_dim` values snapped to the nearest of slot s's `codes`
    codebook vectors, codebook (slots, codes, code_dim)."""

    label = "vector-quantized"
    no_prior = "a VQ-VAE has no prior over its code indices (that needs a second model, such as a PixelCNN over them)"

    def __init__(self, slots: int, codes: int, code_dim: int, ema: bool, ema_decay: float, restart_after: int | None):
        super().__init__()
        self.code_dim, self.ema, self.decay, self.restart_after = code_dim, ema, ema_decay, restart_after
        start = torch.empty(slots, codes, code_dim).uniform_(-1.0 / codes, 1.0 / codes)
        self.codebook = nn.Parameter(start, requires_grad=not ema)
        self.register_buffer("ema_count", torch.ones(slots, codes))
        self.register_buffer("ema_sum", start.clone())
        self.register_buffer("idle_steps", torch.zeros(slots, codes, dtype=torch.long))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def slots(self, h: Tensor) -> Tensor:
        """(B, latent_dim) -> (B, slots, code_dim)."""
        return h.reshape(len(h), -1, self.code_dim)

    def indices(self, h: Tensor) -> Tensor:
        """Each slot's nearest codebook vector (squared distance), (B, slots) int64."""
        z = self.slots(h)
        cross = torch.einsum("bsd,skd->bsk", z, self.codebook)
        distances = z.pow(2).sum(-1, keepdim=True) - 2 * cross + self.codebook.pow(2).sum(-1)
        return distances.argmin(-1)

    def lookup(self, indices: Tensor) -> Tensor:
        """The codebook vectors of `indices` (B, slots), flat: (B, slots * code_dim)."""
        slot = torch.arange(indices.shape[1], device=indices.device)
        return self.codebook[slot, indices].reshape(len(indices), -1)

    def forward(self, h: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        if self.training and not self.initialized:
            self._start_at(self.slots(h.detach()))
        indices = self.indices(h)
        z_q = self.lookup(indices)
        if self.training:
            self._learn(self.slots(h.detach()), indices)
        return h + (z_q - h).detach(), {"z_e": h, "z_q": z_q, "indices": indices}

    def mean(self, h: Tensor) -> Tensor:
        """The deterministic code: the quantized one the decoder sees."""
        return self.lookup(self.indices(h))

    @torch.no_grad()
    def _start_at(self, z: Tensor) -> None:
        """The codebook's first values: each slot's encodings in the first training batch (drawn
        with replacement), so no code starts far from the data."""
        slots, codes = self.codebook.shape[:2]
        rows = torch.randint(len(z), (slots, codes), device=z.device)
        picks = z[rows, torch.arange(slots, device=z.device)[:, None]]
        self.codebook.copy_(picks)
        self.ema_sum.copy_(picks)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _learn(self, z: Tensor, indices: Tensor) -> None:
        """After a training batch: the EMA update, then dead codes restarted at that slot's encodings."""
        one_hot = torch.nn.functional.one_hot(indices, self.codebook.shape[1]).to(z.dtype)  # (B, slots, codes)
        counts = one_hot.sum(0)
        if self.ema:
            self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
            self.ema_sum.mul_(self.decay).add_(torch.einsum("bsk,bsd->skd", one_hot, z), alpha=1 - self.decay)
            total = self.ema_count.sum(1, keepdim=True)
            smoothed = (self.ema_count + 1e-5) / (total + self.ema_count.shape[1] * 1e-5) * total  # Laplace smoothing
            self.codebook.copy_(self.ema_sum / smoothed[..., None])
        self.idle_steps.add_(1).masked_fill_(counts > 0, 0)
        if self.restart_after is not None:
            slot, code = (self.idle_steps >= self.restart_after).nonzero(as_tuple=True)
            if len(slot):
                picks = z[torch.randint(len(z), (len(slot),), device=z.device), slot]
                self.codebook[slot, code] = picks
                self.ema_sum[slot, code], self.ema_count[slot, code] = picks, 1.0
                self.idle_steps[slot, code] = 0

    def sample_prior(self, count: int, latent_dim: int, generator: torch.Generator) -> Tensor | None:
        return None


def usage_figures(indices: Tensor, codes: int) -> dict[str, Tensor]:
    """Of a batch's code indices (N, slots): codebook_perplexity, each slot's exp(entropy of its
    codes' use) averaged over the slots (`codes` when every code is used evenly, 1 when one takes
    all), and codebook_usage, the share of (slot, code) pairs used at least once."""
    one_hot = torch.nn.functional.one_hot(indices, codes).float()  # (N, slots, codes)
    share = one_hot.mean(0)
    entropy = -(share * torch.log(share.clamp_min(1e-12))).sum(-1)
    return {"codebook_perplexity": entropy.exp().mean(), "codebook_usage": (share > 0).float().mean()}


class VQ(Regularizer):
    """The VQ-VAE's terms (see the module docstring) on a `VectorQuantizer` code layer."""

    name = "vq"
    bottleneck = VectorQuantizer
    on_screen = ("codebook_perplexity",)

    def __init__(self, cfg: DictConfig):
        super().__init__(cfg)
        self.codes, self.code_dim, self.beta = int(cfg.codes), int(cfg.code_dim), float(cfg.beta)

    def make_bottleneck(self, latent_dim: int) -> VectorQuantizer:
        if latent_dim % self.code_dim:
            raise UserError(
                f"regularizer.vq.code_dim={self.code_dim} must divide model.latent_dim={latent_dim} (the code is cut into "
                f"slots of code_dim values); set regularizer.vq.code_dim to a divisor, e.g. 1"
            )
        cfg = self.cfg
        return VectorQuantizer(latent_dim // self.code_dim, self.codes, self.code_dim, bool(cfg.ema), float(cfg.ema_decay),
                               cfg.restart_after)

    def check(self, model: Autoencoder, data: Any) -> None:
        if not isinstance(model.bottleneck, VectorQuantizer):  # the model was built without the code layer this term declares
            raise RuntimeError("regularizer=vq on a model without a vector-quantized code layer")
        if model.input_gain:
            raise UserError("regularizer=vq decodes codes without an input; set model.input_gain=false")

    def penalty(self, model: Autoencoder, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        z_e, z_q = forward.stats["z_e"], forward.stats["z_q"]
        terms = {"vq_commitment": self.beta * (z_e - z_q.detach()).pow(2).sum(1).mean()}
        if not model.bottleneck.ema:
            terms["vq_codebook"] = (z_e.detach() - z_q).pow(2).sum(1).mean()
        return terms

    def diagnostics(self, model: Autoencoder, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        return usage_figures(forward.stats["indices"], self.codes)

    def evaluate(self, model: Autoencoder, likelihood: Likelihood, split: Split, settings: Any, batch_size: int) -> dict[str, float]:
        """codebook_perplexity and codebook_usage over every code of the split."""
        model.eval()
        with torch.no_grad():
            indices = torch.cat([model.bottleneck.indices(model.encoded(x, y)) for x, y in split.labelled_batches(batch_size)])
        return {key: float(value) for key, value in usage_figures(indices, self.codes).items()}


REGULARIZERS.register("vq", settings=SETTINGS)(VQ)

__all__ = ["VQ", "VectorQuantizer", "usage_figures"]
