"""Input centring and scaling held by the model (the linear autoencoder's `model.normalize_input`).

A linear autoencoder trained by gradient descent reaches PCA's subspace only as fast as its
worst-conditioned direction allows. Raw data far from the origin (the lines of the default
dataset sit around y = 7.5, the mean being most of each curve's norm) couple the biases to the
weights: while the biases have not yet learned the mean, the weights spend their steps on it,
and after the default 30 Adam epochs the decoder was 69 degrees away from PCA's subspace. The
model therefore subtracts the training mean and divides by one overall scale before the
encoder, and undoes both on the decoder's mean output.

One scale for all dimensions, not one per dimension: an affine map of this kind keeps the model
the same family of functions (the decoder still spans a subspace of the data space) and keeps
PCA's subspace where it was, so `pca_angle_deg` compares like with like. Per-dimension
standardization would change which subspace PCA picks. The statistics are buffers, saved with
every checkpoint; `fit` sets them from the training split when a model is built.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class InputScaling(nn.Module):
    """x -> (x - mean) / scale on flat inputs (B, D); `mean` (D,) and `scale` () are buffers."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(()))

    @torch.no_grad()
    def fit(self, x: Tensor) -> None:
        """Set the statistics from the training samples `x` (N, *shape): the per-dimension mean and
        the root mean square distance from it over all dimensions (1 for constant data)."""
        flat = x.reshape(len(x), -1).to(self.mean.device, torch.float64)
        mean = flat.mean(0)
        scale = (flat - mean).pow(2).mean().sqrt()
        self.mean.copy_(mean)
        self.scale.fill_(scale.item() if scale.item() > 0 else 1.0)

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.scale

    def extra_repr(self) -> str:
        return f"dim={self.mean.numel()}"


class OutputUnscaling(nn.Module):
    """The inverse of an InputScaling on the decoder's first block of outputs (the mean of the
    likelihood, D values); further blocks (a learned log-variance) pass unchanged. Holds the
    scaling by reference, so its buffers appear once in the state dict (under the encoder)."""

    def __init__(self, scaling: InputScaling):
        super().__init__()
        self._scaling = [scaling]

    def forward(self, y: Tensor) -> Tensor:
        scaling = self._scaling[0]
        dim = scaling.mean.numel()
        first = y[:, :dim] * scaling.scale + scaling.mean
        return first if y.shape[1] == dim else torch.cat([first, y[:, dim:]], dim=1)
