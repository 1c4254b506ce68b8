"""Sparse coding (dictionary learning): x ~ D h with a sparse code h inferred per input.

The code of x minimizes the lasso objective 1/2 ||x - D h||^2 + lambda ||h||_1 over h,
found by ISTA (Daubechies et al. 2004) or by FISTA (Beck & Teboulle 2009) in its monotone
form (MFISTA): plain FISTA's objective may rise from one iteration to the next; the monotone
variant keeps the better of the new proximal point and the previous iterate, which makes
every iteration's objective at most the previous one while keeping FISTA's O(1/k^2) rate.
Both take the step 1/L, L the largest eigenvalue of D^T D, recomputed from D on every call
(so it follows D as it learns), and run batched on D's device starting from h = 0.

Learning alternates inference (D fixed, no gradient) and one optimizer step on D for the
reconstruction of the inferred codes, after which every column (atom) of D is rescaled to
unit norm. Optional predictive sparse decomposition (PSD, Kavukcuoglu et al. 2008): an
encoder g * tanh(W x + b) (a gain per atom) learns to predict the inferred codes from
x, adding `psd_weight * ||encoder(x) - h||^2` to the loss; `encode` then uses it (one layer,
fast) instead of running the inference.

The decoder is the dictionary itself, a bias-free linear map (`decoder.weight` is D,
data dimensions x atoms). The reconstruction term comes from the Gaussian likelihood:
with sigma = 1 it is 1/2 ||x - D h||^2 plus a constant, so `total` is the lasso objective
plus that constant (nats per sample, summed over dimensions, averaged over the batch).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from omegaconf import DictConfig
from torch import Tensor, nn

from aecli.config.schema import Bool, Choice, Float, Int
from aecli.errors import UserError
from aecli.models import MODELS
from aecli.models.base import Autoencoder, Forward, num_features
from aecli.models.bottleneck import Bottleneck

METHODS = ("ista", "fista")
SETTINGS = {
    "latent_dim": Int(min=1),
    "lambda": Float(min=0),
    "inference": Choice(*METHODS),
    "iterations": Int(min=1),
    "psd": Bool(),
    "psd_weight": Float(min=0),
}


def soft_threshold(v: Tensor, threshold: float | Tensor) -> Tensor:
    """The proximal map of threshold * ||.||_1: sign(v) * max(|v| - threshold, 0)."""
    return torch.sign(v) * torch.relu(v.abs() - threshold)


def lipschitz_constant(dictionary: Tensor) -> Tensor:
    """L = the largest eigenvalue of D^T D, the Lipschitz constant of the gradient of 1/2 ||x - D h||^2."""
    gram = dictionary.T @ dictionary
    return torch.linalg.eigvalsh(gram)[-1]


def lasso_objective(x: Tensor, dictionary: Tensor, codes: Tensor, lam: float) -> Tensor:
    """1/2 ||x - D h||^2 + lambda ||h||_1 per row, (B,); x (B, n), D (n, K), h (B, K)."""
    residual = x - codes @ dictionary.T
    return 0.5 * residual.pow(2).sum(1) + lam * codes.abs().sum(1)


@torch.no_grad()
def infer_codes(
    x: Tensor, dictionary: Tensor, lam: float, iterations: int, method: str = "ista", history: list[Tensor] | None = None
) -> Tensor:
    """Sparse codes (B, K) of the rows of `x` (B, n) for dictionary D (n, K), by `iterations`
    steps of ISTA or monotone FISTA with step 1/L from h = 0.

    history: if given, receives the per-row lasso objective after every iteration.
    """
    gram = dictionary.T @ dictionary
    step = 1.0 / torch.linalg.eigvalsh(gram)[-1].clamp_min(1e-12)
    correlation = x @ dictionary  # D^T x per row
    half_norm = 0.5 * x.pow(2).sum(1)

    def objective(h: Tensor) -> Tensor:  # the lasso objective through the Gram matrix (no n-sized product)
        return half_norm - (h * correlation).sum(1) + 0.5 * ((h @ gram) * h).sum(1) + lam * h.abs().sum(1)

    def proximal_step(y: Tensor) -> Tensor:
        return soft_threshold(y - step * (y @ gram - correlation), lam * step)

    h = x.new_zeros(x.shape[0], dictionary.shape[1])
    if method == "ista":
        for _ in range(iterations):
            h = proximal_step(h)
            if history is not None:
                history.append(objective(h))
        return h
    if method != "fista":
        raise UserError(f"model.inference={method} is unknown; choose one of {', '.join(METHODS)}")
    y, t, value = h, 1.0, objective(h)
    for _ in range(iterations):
        z = proximal_step(y)
        z_value = objective(z)
        better = z_value <= value
        h_next = torch.where(better[:, None], z, h)
        value = torch.where(better, z_value, value)
        t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        y = h_next + (t / t_next) * (z - h_next) + ((t - 1.0) / t_next) * (h_next - h)
        h, t = h_next, t_next
        if history is not None:
            history.append(value)
    return h


class CodeInference(nn.Module):
    """x -> the sparse code of x under the dictionary (ISTA or FISTA), without gradients."""

    def __init__(self, dictionary: nn.Linear, lam: float, iterations: int, method: str):
        super().__init__()
        self._dictionary = [dictionary]  # a plain list: the decoder owns the weight
        self.lam, self.iterations, self.method = lam, iterations, method

    def forward(self, x: Tensor) -> Tensor:
        dictionary = self._dictionary[0].weight.detach()
        return infer_codes(x.flatten(1), dictionary, self.lam, self.iterations, self.method)

    def extra_repr(self) -> str:
        return f"method={self.method}, iterations={self.iterations}, lambda={self.lam}"


class PredictiveEncoder(nn.Module):
    """PSD's fast encoder: g * tanh(W x + b), one gain g per atom."""

    def __init__(self, input_dim: int, num_atoms: int):
        super().__init__()
        self.linear = nn.Linear(input_dim, num_atoms)
        self.gain = nn.Parameter(torch.ones(num_atoms))

    def forward(self, x: Tensor) -> Tensor:
        return self.gain * torch.tanh(self.linear(x.flatten(1)))


class SparseCoding(Autoencoder):
    """A learned dictionary D (`decoder.weight`, unit-norm columns) with codes from ISTA/FISTA;
    `encode` is the PSD encoder when there is one, else the inference itself."""

    def __init__(
        self,
        sample_shape: tuple[int, ...],
        num_atoms: int,
        lam: float,
        iterations: int,
        method: str = "ista",
        psd: bool = False,
        psd_weight: float = 1.0,
    ):
        input_dim = num_features(sample_shape)
        decoder = nn.Linear(num_atoms, input_dim, bias=False)
        with torch.no_grad():
            decoder.weight.copy_(torch.randn(input_dim, num_atoms))
        inference = CodeInference(decoder, lam, iterations, method)
        encoder = PredictiveEncoder(input_dim, num_atoms) if psd else inference
        super().__init__(encoder, decoder, num_atoms, sample_shape, 1, Bottleneck())
        self.inference = inference
        self.lam, self.psd_weight = lam, psd_weight
        self.normalize_atoms()

    @property
    def dictionary(self) -> Tensor:
        """D, (data dimensions, atoms)."""
        return self.decoder.weight

    @property
    def predictive(self) -> bool:
        return isinstance(self.encoder, PredictiveEncoder)

    @torch.no_grad()
    def normalize_atoms(self) -> None:
        weight = self.decoder.weight
        weight.div_(weight.norm(dim=0, keepdim=True).clamp_min(1e-12))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Forward:
        codes = self.inference(x)
        stats = {"predicted": self.encoder(x)} if self.predictive else {}
        return Forward(code=codes, output=self.decode(codes), stats=stats)

    def penalty(self, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        """lambda ||h||_1 (logged in the objective; no gradient: the codes are fixed) and, with
        PSD, psd_weight * ||encoder(x) - h||^2; per sample, averaged over the batch."""
        terms = {"l1": self.lam * forward.code.abs().sum(1).mean()}
        if self.predictive:
            terms["psd"] = self.psd_weight * (forward.stats["predicted"] - forward.code).pow(2).sum(1).mean()
        return terms

    def diagnostics(self, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        """mean |h| over code entries and the fraction of entries that are exactly 0."""
        return {"code_mean_abs": forward.code.abs().mean(), "code_zero_fraction": (forward.code == 0).float().mean()}

    def after_step(self) -> None:
        self.normalize_atoms()

    def likelihood_refusal(self, likelihood: Any) -> str | None:
        return None if likelihood.squared_error else "model=sparse_coding minimizes squared error; use likelihood=gaussian"

    def check(self, likelihood: Any, regularizers: list[Any], data: Any) -> None:
        super().check(likelihood, regularizers, data)
        if regularizers:
            names = ",".join(r.name for r in regularizers)
            raise UserError(
                f"model=sparse_coding brings its own L1 penalty (model.lambda) and takes no regularizer, got [{names}]; "
                f"set regularizer=[]"
            )

    def squared_jacobian_norm(self, x: Tensor) -> Tensor | None:
        """Per-sample ||d encode / dx||_F^2 for inferred codes: at a lasso solution with support
        S the code is locally h_S = (D_S^T D_S)^-1 (D_S^T x - lambda sign(h_S)), so the norm is
        trace((D_S^T D_S)^-1). None for a PSD encoder (the generic autograd path applies)."""
        if self.predictive:
            return None
        codes = self.inference(x)
        active = (codes != 0).to(x.dtype)  # (B, K)
        gram = self.dictionary.T @ self.dictionary
        masked = active[:, :, None] * gram * active[:, None, :] + torch.diag_embed(1 - active)
        factor, info = torch.linalg.cholesky_ex(masked)
        if bool((info == 0).all()):  # the usual case, about twice as fast as the eigenvalues
            trace = torch.cholesky_inverse(factor).diagonal(dim1=1, dim2=2).sum(1)
        else:  # a support whose atoms are (numerically) dependent
            trace = (1.0 / torch.linalg.eigvalsh(masked)).sum(1)
        return trace - (1 - active).sum(1)

    def filters(self) -> tuple[str, Tensor]:
        """The atoms (the columns of D), drawn as images (image data) or curves (1-D data)."""
        return "dictionary/atoms", self.dictionary.detach().T.reshape(-1, *self.sample_shape)


@MODELS.register("sparse_coding", settings=SETTINGS)
def build_sparse_coding(
    cfg: DictConfig, sample_shape: tuple[int, ...], outputs_per_dim: int, bottleneck: Bottleneck
) -> SparseCoding:
    if bottleneck.variational:
        raise UserError("model=sparse_coding infers its codes by ISTA and cannot be a VAE; drop vae from regularizer")
    if outputs_per_dim != 1:
        raise UserError("model=sparse_coding reconstructs with squared error; use likelihood=gaussian")
    return SparseCoding(
        tuple(sample_shape), cfg.latent_dim, float(cfg["lambda"]), cfg.iterations, cfg.inference,
        psd=cfg.psd, psd_weight=float(cfg.psd_weight),
    )


__all__ = ["SparseCoding", "build_sparse_coding", "infer_codes", "lasso_objective", "lipschitz_constant", "soft_threshold"]
