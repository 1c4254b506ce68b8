"""L2 weight decay: weight * sum of squared entries of every weight matrix (biases excluded)."""

from __future__ import annotations

from torch import Tensor

from aecli.config.schema import Float
from aecli.models import Autoencoder, Forward
from aecli.regularizers import REGULARIZERS
from aecli.regularizers.base import Regularizer


class L2(Regularizer):
    name = "l2"

    def __init__(self, cfg):
        super().__init__(cfg)
        self.weight = float(cfg.weight)

    def penalty(self, model: Autoencoder, x: Tensor, forward: Forward) -> dict[str, Tensor]:
        # parameters() yields a tied (shared) matrix once, so it is penalized once.
        squared = sum(p.pow(2).sum() for name, p in model.named_parameters() if not name.endswith("bias"))
        return {self.name: self.weight * squared}


REGULARIZERS.register("l2", settings={"weight": Float(min=0)})(L2)
