"""Denoising: the encoder sees a corrupted input; the loss compares with the clean one.

Corruption is drawn on the training device, fresh for every batch. Validation applies the
same corruption, drawn from the run's seed (the same draws every epoch), so best.pt is the
checkpoint that denoises best: on clean input the identity wins, and a model whose decoder
rescales its input (`model.input_gain=true`) would be picked at an early epoch. Evaluation
(`aecli evaluate`, test figures, pictures) stays on clean input.
"""

from __future__ import annotations

import torch
from torch import Tensor

from aecli.config.schema import Choice, Float
from aecli.data import Dataset
from aecli.errors import UserError
from aecli.models import Autoencoder
from aecli.regularizers import REGULARIZERS
from aecli.regularizers.base import Regularizer

# Literature defaults for [0, 1] images, used when `level` is null.
DEFAULT_LEVELS = {"gaussian": 0.4, "masking": 0.25, "salt_and_pepper": 0.1}


class Denoising(Regularizer):
    name = "denoising"
    corrupts_input = True

    def __init__(self, cfg):
        super().__init__(cfg)
        self.noise = cfg.noise
        self.level = DEFAULT_LEVELS[self.noise] if cfg.level is None else float(cfg.level)
        if self.noise == "gaussian" and self.level < 0:
            raise UserError(f"regularizer.denoising.level (the Gaussian std) must be >= 0, got {self.level}")
        if self.noise != "gaussian" and not 0 <= self.level <= 1:
            raise UserError(
                f"regularizer.denoising.level is a probability for noise={self.noise} and must lie in [0, 1], "
                f"got {self.level}"
            )
        self.low, self.high = 0.0, 1.0

    def check(self, model: Autoencoder, data: Dataset) -> None:
        # Salt and pepper set inputs to the data's own extremes.
        self.low, self.high = data.value_range()

    def corrupt(self, x: Tensor) -> Tensor:
        if self.noise == "gaussian":
            return x + self.level * torch.randn_like(x)
        hit = torch.rand_like(x) < self.level
        if self.noise == "masking":
            return x.masked_fill(hit, 0.0)
        salt = torch.rand_like(x) < 0.5
        return torch.where(hit, torch.where(salt, self.high, self.low), x)


REGULARIZERS.register(
    "denoising",
    settings={"noise": Choice(*DEFAULT_LEVELS), "level": Float(nullable=True, requirement="be a number or null")},
)(Denoising)
