"""A run's config, checked and brought up to date. Both need the family registries (each option
declares its own keys where it registers), so they live here, the first layer above the families.

`check_train_config`: every core key against aecli.config.keys.TRAIN, the chosen options' keys
against their registrations, then no NaN or infinity anywhere; before any work, for a composed,
resumed or reloaded config alike.

`migrate`: an old run's config, once, when it is loaded (resume, evaluate, visualize-latents,
encode, finetune, load_run): every key added since aecli first wrote run configs gets the value
its declaration names as `old`, the one that reproduces how such a run behaved before the key
existed. Nothing else in aecli supplies defaults for old configs.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from aecli.config import keys
from aecli.config.schema import ABSENT, DefaultOf, Spec, check_values, refuse_non_finite
from aecli.data import DATASETS
from aecli.likelihoods import LIKELIHOODS
from aecli.models import MODELS
from aecli.regularizers import REGULARIZERS
from aecli.registry import Registry

GROUPS: tuple[tuple[str, Registry], ...] = (("dataset", DATASETS), ("model", MODELS), ("likelihood", LIKELIHOODS))


def check_train_config(cfg: DictConfig, default_of: DefaultOf | None = None) -> None:
    """Every value of a train config (composed, resumed or reloaded), checked against its
    declaration; `default_of(key)` names a key's default in a message about a value's type."""
    check_values(cfg, keys.TRAIN, default_of=default_of)
    for group, registry in GROUPS:
        registry.check(cfg[group], default_of)
    for name, settings in (cfg.get("regularizer") or {}).items():
        REGULARIZERS.check(settings, default_of, name=name)
    refuse_non_finite(cfg)  # after the declared checks, which word their own range


def migrate(cfg: DictConfig) -> DictConfig:
    """`cfg` with every missing key added with its `old` value (in place; returned for convenience)."""
    with open_dict(cfg):
        _one_training_subset(cfg)
        _fill(cfg, keys.TRAIN)
        if OmegaConf.select(cfg, "regularizer", default=None) is None:  # written before regularizers composed
            cfg.regularizer = {}
        for group, registry in GROUPS:
            node = cfg.get(group)
            if isinstance(node, DictConfig):
                _fill(node, registry.settings(node))
        for name, node in cfg.regularizer.items():
            if isinstance(node, DictConfig):
                _fill(node, REGULARIZERS.settings(node, name=str(name)))
    return cfg


def without_old_values(cfg: DictConfig) -> DictConfig:
    """A resolved copy of `cfg` without every declared key that holds its `old` value: the same for
    a run written before a key existed and one written after with the key at the value that behaves
    as before (what `aecli.runs.provenance.settings_hash` hashes)."""
    copy = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    _drop_old(copy, keys.TRAIN)
    for group, registry in GROUPS:
        node = copy.get(group)
        if isinstance(node, DictConfig) and node.get("name") in registry.names:
            _drop_old(node, registry.settings(node))
    for name, node in (copy.get("regularizer") or {}).items():
        if isinstance(node, DictConfig) and str(name) in REGULARIZERS.names:
            _drop_old(node, REGULARIZERS.settings(node, name=str(name)))
    return copy


def _drop_old(node: DictConfig, declarations: dict[str, Spec]) -> None:
    for key, spec in declarations.items():
        if spec.old is ABSENT or OmegaConf.select(node, key, default=ABSENT) != spec.old:
            continue
        parent_key, _, leaf = key.rpartition(".")
        parent = OmegaConf.select(node, parent_key) if parent_key else node
        if isinstance(parent, DictConfig):
            with open_dict(parent):
                parent.pop(leaf)


def _fill(node: DictConfig, declarations: dict[str, Spec]) -> None:
    """The declared keys `node` lacks that have an old value, set to it."""
    for key, spec in declarations.items():
        if spec.old is not ABSENT and OmegaConf.select(node, key, default=ABSENT) is ABSENT:
            OmegaConf.update(node, key, _copy(spec.old), merge=True, force_add=True)


def _one_training_subset(cfg: DictConfig) -> None:
    """`data.train_limit`, a second knob that cut the training split after the dataset's own
    `train_size`, becomes part of the one knob: the smaller of the two."""
    data = cfg.get("data")
    if not isinstance(data, DictConfig) or "train_limit" not in data:
        return
    limit = data.pop("train_limit")
    if limit is None or not isinstance(cfg.get("dataset"), DictConfig):
        return
    size = cfg.dataset.get("train_size")
    cfg.dataset.train_size = limit if size is None else min(int(size), int(limit))


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value
