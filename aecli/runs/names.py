"""Default run folder names that say what ran, so TensorBoard's run list reads as experiments:
`outputs/<date>/<time>_<dataset>-<model>[-<regularizers>]` for a run and
`outputs/multirun/<date>/<time>/<job_num>_<what the job overrides>` for a sweep's job
(configs/train.yaml, hydra.run.dir and hydra.sweep.subdir, through the resolvers below)."""

from __future__ import annotations

import re
from typing import Any

from omegaconf import DictConfig, OmegaConf

MAX_NAME = 120  # characters of a folder name taken from the overrides (file systems allow 255)


def run_name(*, _root_: DictConfig) -> str:
    """`<dataset>-<model>[-<reg1>+<reg2>]` of the composed config (a user's `_target_` option by its last part)."""
    parts = [_option_name(OmegaConf.select(_root_, group, default=None)) for group in ("dataset", "model")]
    regularizer = OmegaConf.select(_root_, "regularizer", default=None)
    if isinstance(regularizer, DictConfig) and len(regularizer):
        parts.append("+".join(str(name) for name in regularizer))
    return safe_name("-".join(parts))


def job_name(overrides: str) -> str:
    """Hydra's `override_dirname` of a sweep job (`model.latent_dim=2,trainer.lr=0.01`) made safe as one folder name."""
    return safe_name(overrides) or "defaults"


def safe_name(text: str) -> str:
    """`text` as one folder name: no path separators, quotes, brackets or spaces; at most MAX_NAME characters."""
    return re.sub(r"[^\w.,=+@-]+", "_", str(text)).strip("_")[:MAX_NAME]


def _option_name(node: Any) -> str:
    if not isinstance(node, DictConfig):
        return "custom"
    name = node.get("name") or str(node.get("_target_", "custom")).rpartition(".")[2]
    return str(name)


def register_resolvers() -> None:
    """Make `${aecli.run_name:}` and `${aecli.job_name:...}` known to OmegaConf (before Hydra composes)."""
    OmegaConf.register_new_resolver("aecli.run_name", run_name, replace=True)
    OmegaConf.register_new_resolver("aecli.job_name", job_name, replace=True)
