"""One registry shape for every pluggable family: a config group's option name -> its builder.

Each option is one module in its family's package that registers itself:

    @MODELS.register("mlp", settings={"latent_dim": Int(min=1), ...})
    def build_mlp(cfg, sample_shape, outputs_per_dim, bottleneck): ...

The registry imports every module of its package the first time it is asked, so adding an
option is one module + one YAML (+ its test file) and touches no other file. `settings`
declares the option's keys for the one validation layer (aecli.config.schema).

A user's own class or function plugs in from their own config folder (`-cd`) without
editing aecli: a YAML whose `_target_` names it (`mypackage.mymodule.build_tiny`) is built by
calling it with the same arguments as the built-in builders of that family.

An option may also be a choice among others, made by capability once the run's parts are known
(`register_choice`: likelihood=auto is the first of its candidates that accepts the data and the
model); `candidates(cfg)` says which options a config stands for, so nothing asks for its name.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

from aecli.errors import UserError


@dataclass(frozen=True)
class Option:
    name: str
    build: Callable[..., Any] | None  # None for a choice, which is never built itself
    settings: dict[str, Any] = field(default_factory=dict)
    candidates: tuple[str, ...] = ()  # a choice: the options it may become, in order of preference


class Registry:
    """Options of one config group (`group`), discovered in the package `package`."""

    def __init__(self, group: str, package: str):
        self.group = group
        self.package = package
        self._options: dict[str, Option] = {}
        self._discovered = False

    def register(self, name: str, settings: dict[str, Any] | None = None) -> Callable[[Callable], Callable]:
        """Decorator: register `builder` as option `name` with its declared `settings`."""

        def decorate(builder: Callable) -> Callable:
            self._options[name] = Option(name, builder, dict(settings or {}))
            return builder

        return decorate

    def register_choice(self, name: str, candidates: tuple[str, ...]) -> None:
        """Register `name` as a choice among `candidates` (options of this registry), made by the
        caller by capability: the first candidate that accepts the run's parts."""
        self._options[name] = Option(name, None, {}, tuple(candidates))

    def candidates(self, cfg: Any) -> list[Any]:
        """The option configs `cfg` stands for: `cfg` itself, or for a choice each candidate's
        shipped defaults (configs/GROUP/NAME.yaml), in order of preference."""
        from aecli.config.keys import option_defaults

        if _target(cfg):
            return [cfg]
        option = self.option(str(cfg.name))
        return [option_defaults(self.group, name) for name in option.candidates] if option.candidates else [cfg]

    @property
    def names(self) -> list[str]:
        self._discover()
        return sorted(self._options)

    def option(self, name: str) -> Option:
        self._discover()
        if name not in self._options:
            raise UserError(f"unknown {self.group} {name!r}: {self.group}={name} is not available; choose one of {', '.join(self.names)}")
        return self._options[name]

    def settings(self, cfg: Any, name: str | None = None) -> dict[str, Any]:
        """The declared settings of the option `cfg` selects (`name`, else `cfg.name`; {} for a
        user's `_target_` or an unknown option)."""
        if _target(cfg):
            return {}
        self._discover()
        option = self._options.get(str(name or cfg.get("name")))
        return option.settings if option else {}

    def check(self, cfg: Any, default_of: Any = None, name: str | None = None) -> Option | None:
        """Check the option's declared settings in `cfg` (the option `name`, else `cfg.name`);
        a user's `_target_` option has no declarations, only the finite-number rule."""
        from aecli.config.schema import check_values, refuse_non_finite

        if _target(cfg):
            refuse_non_finite(cfg)
            return None
        option = self.option(str(name or cfg.name))
        check_values(cfg, option.settings, f"{self.group}.{name}." if name else f"{self.group}.", default_of)
        return option

    def build(self, cfg: Any, *args: Any, name: str | None = None) -> Any:
        """Build the option `cfg` names (`name`, `cfg.name`, or a user's `cfg._target_`) with
        `args`, after checking its settings."""
        option = self.check(cfg, name=name)
        if option is None:
            return import_target(_target(cfg), f"{self.group}._target_")(cfg, *args)
        if option.build is None:
            raise RuntimeError(f"{self.group}={option.name} is a choice among {option.candidates}: build one of `candidates`")
        return option.build(cfg, *args)

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{self.package}.{module.name}")


def _target(cfg: Any) -> str | None:
    try:
        return cfg.get("_target_")
    except AttributeError:
        return None


def import_target(target: str, key: str) -> Callable[..., Any]:
    """The object at the dotted path `target`, from Python's own path: an installed package, or a
    folder on PYTHONPATH (aecli never adds the current folder: what is imported is the user's
    choice of this invocation, never a file that happens to sit there)."""
    module_name, _, attribute = str(target).rpartition(".")
    if not module_name:
        raise UserError(f"{key}={target} must be a dotted path such as mypackage.mymodule.build_model")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UserError(
            f"{key}={target}: cannot import {module_name} ({error}); install it as a package, or put its folder "
            f"on PYTHONPATH (PYTHONPATH=. aecli ... from the folder that holds it)"
        ) from None
    if not hasattr(module, attribute):
        raise UserError(f"{key}={target}: {module_name} has no {attribute}")
    return getattr(module, attribute)
