"""Check a whole command config before any work: core keys, the chosen options' keys, and
no NaN or infinity anywhere. One entry per command; the declarations live in keys.py and
with each option's registration."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from aecli.config import keys
from aecli.config.schema import ABSENT, DefaultOf, Spec, check_values, refuse_non_finite


def validate_train_config(cfg: DictConfig, default_of: DefaultOf | None = None) -> None:
    """Every value of a train config (composed, resumed or reloaded), checked against its declaration."""
    from aecli.data import DATASETS
    from aecli.likelihoods import LIKELIHOODS
    from aecli.models import MODELS
    from aecli.regularizers import REGULARIZERS

    check_values(cfg, keys.TRAIN, default_of=default_of)
    for group, registry in (("dataset", DATASETS), ("model", MODELS), ("likelihood", LIKELIHOODS)):
        registry.check(cfg[group], default_of)
    for name, settings in (cfg.get("regularizer") or {}).items():
        REGULARIZERS.check(settings, default_of, name=name)
    refuse_non_finite(cfg)  # after the declared checks, which word their own range


def validate_command_config(cfg: DictConfig, declarations: dict[str, Spec]) -> None:
    """The settings of `aecli evaluate` / `aecli visualize-latents` (their own keys only)."""
    check_values(cfg, declarations)
    refuse_non_finite(cfg)


def composed_defaults(config_name: str, group_choices: list[str]) -> DefaultOf:
    """`key -> its default` with the same group choices as the command line but none of its
    values, composed only when a message needs it (a type error names the default)."""

    @lru_cache(maxsize=1)
    def reference() -> DictConfig | None:
        from hydra import compose

        try:
            return compose(config_name=config_name, overrides=group_choices)
        except Exception:  # no Hydra context (a config built in code): messages go without the default
            return None

    def default_of(key: str) -> Any:
        cfg = reference()
        return ABSENT if cfg is None else OmegaConf.select(cfg, key, default=ABSENT)

    return default_of


def group_choices(task_overrides: list[str], groups: Callable[[str], bool]) -> list[str]:
    """The overrides of `task_overrides` that choose a group option (`model=conv`, `+experiment=x`)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(task_overrides))
    return [o.input_line for o in parsed if groups(o.key_or_group)]
