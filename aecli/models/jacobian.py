"""The encoder Jacobian's squared Frobenius norm, ||d encode(x) / dx||_F^2, per sample.

Exact for every encoder in aecli. A model may supply a closed form
(`Autoencoder.squared_jacobian_norm`: sparse coding's inferred codes). A single sigmoid layer h = sigmoid(W x + b) has the
closed form sum_j (h_j (1 - h_j))^2 ||W_j||^2. Otherwise the Jacobian's rows come from
one batched vector-Jacobian product per code unit (latent_dim of them, run together
with `is_grads_batched`), which is cheap because codes are much narrower than inputs.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from aecli.models.base import Autoencoder


def squared_jacobian_norm(model: Autoencoder, x: Tensor, create_graph: bool = False,
                          projections: int | None = None, y: Tensor | None = None) -> Tensor:
    """Per-sample ||J(x)||_F^2 of `model.encode` at each row of `x`, shape (B,) (a conditional
    model's at its labels `y`).

    create_graph: keep the graph so the result can be differentiated (training penalties).
    projections: None for the exact norm; n for the unbiased random-projection estimate
    (1/n) sum_i ||v_i^T J||^2 with v_i ~ N(0, I) in code space (E[v v^T] = I), n vector-Jacobian
    products instead of latent_dim (Hoffman, Roberts and Yaida 2019 train with n = 1), where no
    closed form exists.
    Samples must not interact inside the encoder (true for every aecli encoder).
    """
    if not create_graph:
        closed_form = model.squared_jacobian_norm(x)
        if closed_form is not None:
            return closed_form
    sigmoid_layer = None if model.conditional else _single_sigmoid_layer(model.encoder)
    if sigmoid_layer is not None:  # a closed form beats any estimate
        return _sigmoid_layer_norm(sigmoid_layer, x.flatten(1))
    if projections is not None:
        def gaussian(code: Tensor) -> Tensor:  # v ~ N(0, I): ||J||_F^2 is the mean of ||v^T J||^2
            return torch.randn(int(projections), *code.shape, dtype=code.dtype, device=code.device)

        return _squared_vjp_norms(model, x, y, create_graph, gaussian).mean(0)

    def basis(code: Tensor) -> Tensor:  # row j of every sample's Jacobian: the gradient of sum_b code[b, j]
        eye = torch.eye(code.shape[1], dtype=code.dtype, device=code.device)
        return eye[:, None, :].expand(code.shape[1], *code.shape)

    return _squared_vjp_norms(model, x, y, create_graph, basis).sum(0)


def _squared_vjp_norms(
    model: Autoencoder, x: Tensor, y: Tensor | None, create_graph: bool, directions: Callable[[Tensor], Tensor]
) -> Tensor:
    """||v^T J(x)||^2 for each direction v of `directions(code)` (n, B, latent_dim) and each
    sample, shape (n, B): n vector-Jacobian products run together (`is_grads_batched`)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        code = model.encode(x, y)
        vectors = directions(code)
        if not code.requires_grad:  # a code piecewise constant in x (a VQ-VAE's): its Jacobian is zero
            return x.new_zeros(len(vectors), len(x))
        (rows,) = torch.autograd.grad(
            code, x, grad_outputs=vectors, is_grads_batched=True, create_graph=create_graph, allow_unused=True
        )
    if rows is None:  # the code depends on x only through a step function (a VQ-VAE's snapping)
        return x.new_zeros(len(vectors), len(x))
    return rows.pow(2).flatten(2).sum(2)


def _single_sigmoid_layer(encoder: nn.Module) -> nn.Linear | None:
    """The Linear of an encoder that is exactly [Flatten,] Linear, Sigmoid; else None."""
    layers = [m for m in encoder.children() if not isinstance(m, nn.Flatten)] if isinstance(encoder, nn.Sequential) else []
    if len(layers) == 2 and isinstance(layers[0], nn.Linear) and isinstance(layers[1], nn.Sigmoid):
        return layers[0]
    return None


def _sigmoid_layer_norm(layer: nn.Linear, x: Tensor) -> Tensor:
    h = torch.sigmoid(layer(x))
    row_norms = layer.weight.pow(2).sum(1)  # ||W_j||^2 for each code unit j
    return (h * (1 - h)).pow(2) @ row_norms

