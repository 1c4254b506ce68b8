"""beta-TCVAE (Chen et al. 2018, "Isolating sources of disentanglement in VAEs"): a VAE's KL term,
averaged over the data, split into three parts,

    E_x KL(q(z|x) || p(z)) = I_q(x; z)                          index-code mutual information
                           + KL(q(z) || prod_d q(z_d))           total correlation
                           + sum_d KL(q(z_d) || p(z_d))          dimension-wise KL

where q(z) = E_x q(z|x) is the aggregate posterior. `regularizer.vae.tc_weight` weighs the total
correlation on its own (beta-TCVAE), the other two keep the VAE's beta.

On a minibatch of M codes z_i ~ q(z|x_i) from N training samples, each aggregate density is a
weighted sum over the batch, log q(z_i) ~ logsumexp_j [log q(z_i|x_j) + log w_ij], and each
log q(z_{i,d}) the same per latent. Two weightings from the paper (`regularizer.vae.tc_estimator`):

- `mws`, minibatch-weighted sampling (the default, and the paper's code's): the same weight for
  every member of the batch. The paper writes it 1/(N M); those weights sum to 1/N, which shifts
  each part by a constant multiple of log N (the mutual information by +log N, the total
  correlation by +(D - 1) log N, the dimension-wise KL by -D log N) without changing a gradient.
  aecli uses 1/M, so the parts read in nats: for others drawn with replacement its density
  estimate is q(z) + (q(z|x_i) - q(z)) / M, the self term's known bias, which the tests check by
  brute force over every batch of a small discrete dataset.
- `mss`, minibatch stratified sampling: w_ii = 1/N, one other member of the batch (j = i + 1,
  cyclically) (N - M + 1) / (N (M - 1)), every other 1/(M - 1). Its density estimate is unbiased
  for a batch drawn without replacement, checked the same way.

Under either, the three estimates sum exactly to the one-sample KL estimate log q(z|x) - log p(z)
of every sample. The prior must factorize over the latents (N(0, I)).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from aecli.models.bottleneck import log_normal

ESTIMATORS = ("mws", "mss")


def log_weights(batch: int, dataset_size: int, estimator: str, device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    """log w_ij of the aggregate density estimate (see the module docstring), (batch, batch)."""
    if estimator == "mws" or batch < 2:
        return torch.full((batch, batch), -math.log(batch), device=device, dtype=dtype)
    others = batch - 1
    weights = torch.full((batch, batch), 1.0 / others, device=device, dtype=dtype)
    weights[torch.arange(batch), (torch.arange(batch) + 1) % batch] = (dataset_size - others) / (dataset_size * others)
    weights.fill_diagonal_(1.0 / dataset_size)
    return weights.log()


def kl_parts(z: Tensor, mean: Tensor, logvar: Tensor, dataset_size: int, estimator: str = "mws") -> dict[str, Tensor]:
    """The estimates of the three parts for each sample of a batch (each (B,), nats), for codes z
    (B, D) drawn from q(z|x) = N(mean, exp(logvar)) and a prior N(0, I)."""
    log_q_given_x = log_normal(z, mean, logvar).sum(-1)  # log q(z_i | x_i)
    pairs = log_normal(z[:, None, :], mean[None], logvar[None])  # (B, B, D): log q(z_{i,d} | x_j)
    weights = log_weights(len(z), dataset_size, estimator, z.device, z.dtype)
    log_q = torch.logsumexp(pairs.sum(-1) + weights, dim=1)
    log_q_dims = torch.logsumexp(pairs + weights[..., None], dim=1).sum(-1)
    log_prior = log_normal(z, torch.zeros_like(z), torch.zeros_like(z)).sum(-1)
    return {"mutual_info": log_q_given_x - log_q, "total_correlation": log_q - log_q_dims, "dimwise_kl": log_q_dims - log_prior}


DECOMPOSITION_ROWS = 1000  # codes whose aggregate densities `decomposition` estimates (a fixed-seed draw)


@torch.no_grad()
def decomposition(model, split, batch_size: int, rows: int = DECOMPOSITION_ROWS, seed: int = 0) -> dict[str, float]:
    """`aecli evaluate`'s split of a VAE's KL on `split` (nats per sample, no weights): mutual_info,
    total_correlation and dimwise_kl, each aggregate density log q(z) = logsumexp_n log q(z|x_n)
    - log N over every sample n of the split (the paper's estimate over the whole dataset), for codes
    z ~ q(z|x_i) of `rows` of its samples (a fixed-seed draw; all when fewer). For a model with a
    N(0, I) prior (a conditional one's posteriors given each true label)."""
    model.eval()
    means, logvars = [], []
    for x, y in split.labelled_batches(batch_size):
        stats = model(x, y).stats
        means.append(stats["mean"].double())
        logvars.append(stats["logvar"].double())
    mean, logvar = torch.cat(means), torch.cat(logvars)
    total = len(mean)
    chosen = torch.randperm(total, generator=torch.Generator().manual_seed(seed))[: min(rows, total)].to(mean.device)
    generator = torch.Generator(device=mean.device).manual_seed(seed)
    eps = torch.randn(mean[chosen].shape, generator=generator, device=mean.device, dtype=mean.dtype)
    z = mean[chosen] + torch.exp(0.5 * logvar[chosen]) * eps
    sums = {"mutual_info": 0.0, "total_correlation": 0.0, "dimwise_kl": 0.0}
    step = max(1, batch_size * 64 // max(1, total))  # codes per chunk: chunk x N x D densities at once
    for start in range(0, len(z), step):
        codes, own = z[start : start + step], chosen[start : start + step]
        pairs = log_normal(codes[:, None, :], mean[None], logvar[None])  # (c, N, D)
        log_q = torch.logsumexp(pairs.sum(-1), dim=1) - math.log(total)
        log_q_dims = (torch.logsumexp(pairs, dim=1) - math.log(total)).sum(-1)
        log_q_given_x = log_normal(codes, mean[own], logvar[own]).sum(-1)
        log_prior = log_normal(codes, torch.zeros_like(codes), torch.zeros_like(codes)).sum(-1)
        sums["mutual_info"] += (log_q_given_x - log_q).sum().item()
        sums["total_correlation"] += (log_q - log_q_dims).sum().item()
        sums["dimwise_kl"] += (log_q_dims - log_prior).sum().item()
    return {key: value / len(z) for key, value in sums.items()}
