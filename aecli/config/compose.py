"""What the command line composed, as Hydra parsed it: the keys its overrides set, the group
options it chose, each key's default with the same choices (for messages), and `+key` additions
that would be ignored. Option values themselves are checked against their declarations by
aecli.runs.config, the first layer that knows the family registries."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from aecli.config.schema import ABSENT, DefaultOf, nearest
from aecli.errors import UserError


def parsed_overrides(overrides: list[str]) -> list:
    """`overrides` (key=value strings) as Hydra's own override parser reads them."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides(list(overrides))


def override_keys(overrides: list[str]) -> list[str]:
    """The keys (or groups) `overrides` set, in order."""
    return [o.key_or_group for o in parsed_overrides(overrides)]


@lru_cache(maxsize=4)
def reference_config(config_name: str, group_choices: tuple[str, ...]) -> DictConfig | None:
    """The config with the command line's group choices but none of its values: what every
    declared key defaults to. Composed only when needed; None without a Hydra context."""
    from hydra import compose

    try:
        return compose(config_name=config_name, overrides=list(group_choices))
    except Exception:  # no Hydra context (a config built in code): messages go without the default
        return None


def composed_defaults(config_name: str, group_choices: list[str]) -> DefaultOf:
    """`key -> its default` with the same group choices as the command line but none of its
    values, composed only when a message needs it (a type error names the default)."""

    def default_of(key: str) -> Any:
        cfg = reference_config(config_name, tuple(group_choices))
        return ABSENT if cfg is None else OmegaConf.select(cfg, key, default=ABSENT)

    return default_of


def refuse_added_keys(task_overrides: list[str], groups: Callable[[str], bool], config_name: str) -> None:
    """`+key=value` adds a key the config does not declare, which nothing would read: a typo
    (`+trainer.epoch=3`) that would train silently with the key ignored. Refused with the nearest
    declared key, except under a user's own `_target_` option, whose keys aecli cannot know."""
    parsed = parsed_overrides(task_overrides)
    added = [o for o in parsed if (o.is_add() or o.is_force_add()) and not groups(o.key_or_group)]
    if not added:
        return
    reference = reference_config(config_name, tuple(group_choices(task_overrides, groups)))
    if reference is None:
        return
    for override in added:
        key = override.key_or_group
        parts = key.split(".")
        if OmegaConf.select(reference, key, default=ABSENT) is not ABSENT or any(
            OmegaConf.select(reference, ".".join([*parts[:i], "_target_"]), default=None) for i in range(1, len(parts))
        ):
            continue
        parent = OmegaConf.select(reference, ".".join(parts[:-1]), default=None) if len(parts) > 1 else reference
        guess = nearest(parts[-1], [str(k) for k in parent.keys()] if isinstance(parent, DictConfig) else [])
        hint = f"did you mean {'.'.join([*parts[:-1], guess])}? " if guess else ""
        raise UserError(
            f"{key} is not a key of the config, so +{key} would be ignored; {hint}"
            f"aecli train --help lists every group and key"
        )


def group_choices(task_overrides: list[str], groups: Callable[[str], bool]) -> list[str]:
    """The overrides of `task_overrides` that choose a group option (`model=conv`, `+experiment=x`)."""
    return [o.input_line for o in parsed_overrides(task_overrides) if groups(o.key_or_group)]
