"""Command-line values checked against the types of the defaults they replace.

The config files are the schema: `seed: 0` says seed is an integer, `lr: 1.0e-3` a
number, `hidden_dims: [64]` a list. So `seed=abc`, `trainer.lr=fast` or
`dataset.noise_std=high` stop with one line before any work, for every key, without a
second copy of the config tree in Python. Keys whose default is null or a string are
left to the code that reads them.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from aecli.errors import UserError

_ABSENT = object()


def check_override_types(cfg: DictConfig, hydra_cfg: DictConfig) -> None:
    """Compare each `key=value` of the command line with the same key composed without
    the values (but with the same group choices); a UserError on a type mismatch."""
    from hydra import compose
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = OverridesParser.create().parse_overrides(list(hydra_cfg.overrides.task))
    groups = set(hydra_cfg.runtime.choices)
    values = [o for o in overrides if o.key_or_group not in groups and not o.is_delete()]
    if not values:
        return
    chosen = [o.input_line for o in overrides if o.key_or_group in groups]
    reference = compose(config_name=hydra_cfg.job.config_name, overrides=chosen)
    for override in values:
        key = override.key_or_group
        default = OmegaConf.select(reference, key, default=_ABSENT)
        if default is _ABSENT or default is None:
            continue
        given = OmegaConf.select(cfg, key)
        wanted = _type_wanted(given, default)
        if wanted:
            raise UserError(f"{key} must be {wanted} like its default {_show(default)}, got {_show(given)}")


def _type_wanted(given: Any, default: Any) -> str | None:
    """What `given` should be, judging by `default`, or None when it fits."""
    if isinstance(default, bool):
        return None if isinstance(given, bool) else "true or false"
    if isinstance(default, int):
        return None if isinstance(given, int) and not isinstance(given, bool) else "an integer"
    if isinstance(default, float):
        return None if isinstance(given, (int, float)) and not isinstance(given, bool) else "a number"
    if isinstance(default, ListConfig):
        return None if isinstance(given, ListConfig) else "a list"
    if isinstance(default, DictConfig):
        return None if isinstance(given, DictConfig) else "a mapping"
    return None


def _show(value: Any) -> str:
    """As it is written on the command line."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (DictConfig, ListConfig)):
        return str(OmegaConf.to_container(value))
    return repr(value)
