"""Bring a run's saved config up to date, once, when it is loaded (resume, evaluate,
visualize-latents, load_run): every key added since aecli first wrote run configs gets the
value that reproduces how such a run behaved before the key existed. Nothing else in aecli
supplies defaults for old configs."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

# key -> the value an older run behaved with. Model and dataset keys apply only to the options that have them.
ADDED: dict[str, Any] = {
    "seed": 0,
    "evaluate_after": False,
    "regularizer": {},
    "objective": {"metric": "val_loss", "direction": "minimize"},
    "data.placement": "auto",
    "data.train_limit": None,
    "trainer.optimizer": "adam",
    "trainer.momentum": 0.9,
    "trainer.weight_decay": None,
    "trainer.scheduler": "none",
    "trainer.warmup_epochs": 0,
    "trainer.decay_fraction": 0.2,
    "trainer.step_size": 10,
    "trainer.gamma": 0.1,
    "trainer.grad_clip": None,
    "trainer.patience": None,
    "trainer.precision": "fp32",
    "trainer.compile": False,
    "trainer.num_threads": None,
    "trainer.progress": "auto",
    "trainer.pretrain": "none",
    "trainer.finetune_epochs": 0,
    "trainer.eval_batch_size": 4096,
    "trainer.bn_stats_samples": None,  # runs from before it validated with batch norm's running averages
    "tsne.max_iter": 1000,  # scikit-learn's default, which runs before the key used
    "tsne.backend": "sklearn",
    "tsne.embedding_projector": True,
}
MODEL_ADDED: dict[str, dict[str, Any]] = {
    "mlp": {"code_activation": None, "input_gain": False, "normalize_input": False, "batch_norm": False},
    "conv": {
        "input_gain": False, "code_activation": None, "kernel_sizes": None, "strides": None, "padding": None,
        "batch_norm": False, "hidden_dim": None, "separate_heads": False,
    },
    "linear": {"normalize_input": False, "init": "default"},
}
REGULARIZER_ADDED: dict[str, dict[str, Any]] = {
    "contractive": {"projections": None},
    "vae": {"prior": "normal", "prior_components": 10},
}
DATASET_ADDED: dict[str, dict[str, Any]] = {
    "mnist": {"exclude_classes": []},
    "variance_mnist": {"exclude_classes": []},
}


def migrate(cfg: DictConfig) -> DictConfig:
    """`cfg` with every missing key added (in place; returned for convenience)."""
    with open_dict(cfg):
        for key, value in ADDED.items():
            if OmegaConf.select(cfg, key, default=_MISSING) is _MISSING:
                OmegaConf.update(cfg, key, value, merge=True, force_add=True)
        for group, added in (("model", MODEL_ADDED), ("dataset", DATASET_ADDED)):
            node = cfg.get(group)
            if isinstance(node, DictConfig):
                _fill(node, added.get(str(node.get("name")), {}))
        chosen = cfg.get("regularizer")
        if isinstance(chosen, DictConfig):
            for name, added in REGULARIZER_ADDED.items():
                if isinstance(chosen.get(name), DictConfig):
                    _fill(chosen[name], added)
    return cfg


def _fill(node: DictConfig, added: dict[str, Any]) -> None:
    """The keys of `added` that `node` (one option's settings) lacks, with their old values."""
    for key, value in added.items():
        if key not in node:
            node[key] = value


_MISSING = object()
