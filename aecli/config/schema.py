"""The one validation layer: every config value is checked here, from one declaration per key.

A declaration is a small spec (`Int`, `Float`, `Bool`, `Choice`, `IntList`, `FloatRange`,
`Text`). Core keys (trainer.*, log.*, tsne.*, ...) are declared in aecli.config.keys; each
option of a family declares its own keys where it registers (aecli.registry), so a new
option brings its declarations along. `check_values` walks a config node against such a
table; `refuse_non_finite` refuses NaN and infinity in every float of a config, declared or not.

A key added after aecli first wrote run configs declares `old`: the value that reproduces how
a run from before the key behaved; an old run's config gets it once, when it is loaded
(aecli.runs.config.migrate). The key's default and help line are its YAML line.

Messages are one line: "KEY must REQUIREMENT, got VALUE". A value of the wrong type names
the key's default when it is known ("seed must be an integer like its default 0, got 'abc'").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from omegaconf import DictConfig, ListConfig, OmegaConf

from aecli.errors import UserError

ABSENT = object()
DefaultOf = Callable[[str], Any]


def show(value: Any) -> str:
    """A value as it is written on the command line."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (DictConfig, ListConfig)):
        return str(OmegaConf.to_container(value))
    return repr(value)


def nearest(word: str, candidates: list[str]) -> str | None:
    """The candidate closest to `word` (a likely typo), or None when none is close."""
    import difflib

    found = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return found[0] if found else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Spec:
    """The base: `nullable` admits null; `requirement` overrides the generated wording; `old`
    is the value of a key added later for runs from before it (ABSENT: the key was always there)."""

    nullable: bool = False
    requirement: str | None = None
    type_word: str = "a value"
    old: Any = ABSENT

    def type_ok(self, value: Any) -> bool:
        return True

    def in_range(self, value: Any) -> bool:
        return True

    def describe(self) -> str:
        return f"be {self.type_word}"

    def check(self, key: str, value: Any, default_of: DefaultOf | None = None) -> None:
        if value is None:
            if not self.nullable:
                raise UserError(f"{key} must {self.wording()}, got null")
            return
        if not self.type_ok(value):
            default = default_of(key) if default_of else None
            if default is not None and default is not ABSENT:
                raise UserError(f"{key} must be {self.type_word} like its default {show(default)}, got {show(value)}")
            raise UserError(f"{key} must {self.wording()}, got {show(value)}")
        if not self.in_range(value):
            raise UserError(f"{key} must {self.wording()}, got {show(value)}")

    def wording(self) -> str:
        text = self.requirement or self.describe()
        return f"{text} or null" if self.nullable and not self.requirement else text


@dataclass(frozen=True)
class Int(Spec):
    min: int | None = None
    max: int | None = None
    type_word: str = "an integer"

    def type_ok(self, value: Any) -> bool:
        return _is_int(value)

    def in_range(self, value: Any) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        if self.min == 1 and self.max is None:
            return "be a positive integer"
        if self.max is None:
            return "be an integer" + ("" if self.min is None else f" >= {self.min}")
        return f"be an integer in {self.min}..{self.max}"


@dataclass(frozen=True)
class Float(Spec):
    """A finite number; `min`/`max` bounds, exclusive where `*_open`."""

    min: float | None = None
    max: float | None = None
    min_open: bool = False
    max_open: bool = False
    type_word: str = "a number"

    def type_ok(self, value: Any) -> bool:
        return _is_number(value)

    def in_range(self, value: Any) -> bool:
        if not math.isfinite(value):
            return False
        low_ok = self.min is None or (value > self.min if self.min_open else value >= self.min)
        high_ok = self.max is None or (value < self.max if self.max_open else value <= self.max)
        return low_ok and high_ok

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            left, right = "(" if self.min_open else "[", ")" if self.max_open else "]"
            return f"lie in {left}{self.min:g}, {self.max:g}{right}"
        if self.min is not None:
            return f"be a number {'>' if self.min_open else '>='} {self.min:g}"
        if self.max is not None:
            return f"be a number {'<' if self.max_open else '<='} {self.max:g}"
        return "be a finite number"


@dataclass(frozen=True)
class Bool(Spec):
    type_word: str = "true or false"

    def type_ok(self, value: Any) -> bool:
        return isinstance(value, bool)


@dataclass(frozen=True)
class Text(Spec):
    type_word: str = "a string"

    def type_ok(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value)


class Choice(Spec):
    """One of `choices` (strings, or the booleans true/false); `message` may use {key},
    {value} and {choices} for the wording a user already knows."""

    def __init__(self, *choices: Any, nullable: bool = False, message: str | None = None, old: Any = ABSENT):
        super().__init__(nullable=nullable, old=old)
        object.__setattr__(self, "choices", tuple(choices))
        object.__setattr__(self, "message", message or "{key}={value} is unknown; choose one of {choices}")

    def check(self, key: str, value: Any, default_of: DefaultOf | None = None) -> None:
        if value is None and self.nullable:
            return
        if not any(value == c and type(value) is type(c) for c in self.choices):
            choices = ", ".join(show(c) if isinstance(c, bool) else str(c) for c in self.choices)
            shown = show(value) if isinstance(value, bool) or value is None else value
            raise UserError(self.message.format(key=key, value=shown, choices=choices))


@dataclass(frozen=True)
class IntList(Spec):
    min: int = 1
    nonempty: bool = False
    type_word: str = "a list"

    def type_ok(self, value: Any) -> bool:
        return isinstance(value, (ListConfig, list, tuple))

    def in_range(self, value: Any) -> bool:
        return (len(value) > 0 or not self.nonempty) and all(_is_int(v) and v >= self.min for v in value)

    def describe(self) -> str:
        return f"be a {'non-empty ' if self.nonempty else ''}list of positive integers"

    def check(self, key: str, value: Any, default_of: DefaultOf | None = None) -> None:
        try:
            super().check(key, value, default_of)
        except UserError as error:
            if self.type_ok(value):  # name the list as a plain list, not OmegaConf's repr
                raise UserError(f"{key} must {self.wording()}, got {list(value)}") from None
            raise error from None


@dataclass(frozen=True)
class FloatRange(Spec):
    """[low, high]: two finite numbers with low < high."""

    type_word: str = "a list"

    def type_ok(self, value: Any) -> bool:
        return isinstance(value, (ListConfig, list, tuple))

    def in_range(self, value: Any) -> bool:
        return (
            len(value) == 2 and all(_is_number(v) and math.isfinite(v) for v in value) and value[0] < value[1]
        )

    def check(self, key: str, value: Any, default_of: DefaultOf | None = None) -> None:
        if self.type_ok(value) and not self.in_range(value):
            raise UserError(f"{key} must be two finite numbers [low, high] with low < high, got {list(value)}")
        super().check(key, value, default_of)


def check_values(node: Any, declarations: dict[str, Spec], prefix: str = "", default_of: DefaultOf | None = None) -> None:
    """Check every declared key of `node` (a config, or one group's node with its `prefix`);
    keys a node lacks are left alone (old run configs are migrated first, see migrate.py)."""
    for key, spec in declarations.items():
        value = OmegaConf.select(node, key, default=ABSENT) if isinstance(node, DictConfig) else _get(node, key)
        if value is ABSENT:
            continue
        spec.check(f"{prefix}{key}", value, default_of)


def _get(node: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return ABSENT
        node = node[part]
    return node


def refuse_non_finite(cfg: Any, skip: Iterable[str] = ("hydra",)) -> None:
    """NaN and infinity are refused for every float of `cfg`, declared or not."""
    container = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, (DictConfig, ListConfig)) else cfg
    for key, value in _leaves(container, ""):
        if key.split(".")[0] in skip:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"{key} must be a finite number, got {value}")


def _leaves(value: Any, prefix: str) -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{prefix}{key}.")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{prefix}{i}.")
    else:
        yield prefix.rstrip("."), value


@dataclass(frozen=True)
class ImageSize(Spec):
    """A positive integer (a square side) or [height, width]."""

    type_word: str = "an integer or [height, width]"

    def type_ok(self, value: Any) -> bool:
        return _is_int(value) or isinstance(value, (ListConfig, list, tuple))

    def in_range(self, value: Any) -> bool:
        values = [value] if _is_int(value) else list(value)
        return (_is_int(value) or len(values) == 2) and all(_is_int(v) and v >= 1 for v in values)

    def describe(self) -> str:
        return "be a positive integer (square) or [height, width]"
