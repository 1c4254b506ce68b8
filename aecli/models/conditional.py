"""The conditional VAE's label input (Sohn et al. 2015, `model.conditional=true`): the class label,
one-hot, enters the encoder and the decoder.

A one-hot label concatenated to a linear layer's input adds one learned column of its weight to
the layer's output: W [h; onehot(y)] = W_h h + W_y[:, y]. So each network keeps its layers and
gains, at its first linear or convolutional layer, a learned vector per class added to that
layer's output: exactly the concatenation at the encoder's flat input (model=mlp) and at the
decoder's code input (both models); at a first convolution (model=conv's encoder) it is the
concatenation of constant one-hot channels up to the zero-padded border. The vectors start as
torch initializes those weight columns, uniform in +-1/sqrt(fan-in) with the label counted in.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from aecli.errors import UserError

WEIGHTED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


class LabelledSequential(nn.Sequential):
    """`layers` in order, with `labels[:, y]` added to the output of the first weighted layer for
    a batch of class indices y (B,). Iterates and names its layers like nn.Sequential."""

    def __init__(self, layers: nn.Sequential, classes: int):
        super().__init__(*layers)
        found = [i for i, layer in enumerate(self) if isinstance(layer, WEIGHTED) or hasattr(layer, "out_features")]
        if not found:
            raise RuntimeError("a conditional network needs a linear or convolutional layer")
        self.at = found[0]
        first = self[self.at]
        width = first.out_channels if isinstance(first, (nn.Conv2d, nn.ConvTranspose2d)) else first.out_features
        self.spatial = isinstance(first, (nn.Conv2d, nn.ConvTranspose2d))
        self.classes = classes
        inputs = first.weight[0].numel() if isinstance(first, (nn.Linear, nn.Conv2d)) else width  # per output unit
        bound = (inputs + classes) ** -0.5
        self.labels = nn.Parameter(torch.empty(width, classes).uniform_(-bound, bound))

    def forward(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        if y is None:
            raise UserError("this model is conditional (model.conditional=true): it needs each sample's class label")
        for i, layer in enumerate(self):
            h = layer(h)
            if i == self.at:
                shift = self.labels.t()[y]  # (B, width)
                h = h + (shift[..., None, None] if self.spatial else shift)
        return h


__all__ = ["LabelledSequential"]
