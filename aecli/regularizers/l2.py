"""L2 weight decay: weight * sum of squared entries of every weight matrix (biases excluded)."""

from __future__ import annotations

from torch import Tensor

from aecli.models import Autoencoder, Forward
from aecli.regularizers.base import Regularizer, check_weight


class L2(Regularizer):
    name = "l2"

    def __init__(self, cfg):
        super().__init__(cfg)
        self.weight = check_weight(self.name, cfg.weight)

    def penalty(self, model: Autoencoder, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        # parameters() yields a tied (shared) matrix once, so it is penalized once.
        squared = sum(p.pow(2).sum() for name, p in model.named_parameters() if not name.endswith("bias"))
        return {self.name: self.weight * squared}
