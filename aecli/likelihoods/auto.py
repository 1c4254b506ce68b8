"""likelihood=auto, the default: not a distribution but the choice of one, made once the data
and the model are known (aecli.engine.build): bernoulli when every value lies in [0, 1] and the
model's decoder can output it, gaussian otherwise. Registered so that validation and the list
of choices know it; the run's saved config records the likelihood it became."""

from __future__ import annotations

from omegaconf import DictConfig

from aecli.likelihoods import LIKELIHOODS
from aecli.likelihoods.base import Likelihood


@LIKELIHOODS.register("auto")
def build_auto(cfg: DictConfig) -> Likelihood:
    raise RuntimeError("likelihood=auto is resolved by aecli.engine.build.build_experiment before any likelihood is built")
