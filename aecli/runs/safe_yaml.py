"""Read a run folder's `.hydra/config.yaml` as untrusted input.

A run folder from someone else is as untrusted as its checkpoints. `OmegaConf.load` is safe
from code execution (it uses a SafeLoader), but not from work without bound:
- YAML anchors and aliases expand on load, so a "billion laughs" of a few hundred bytes
  appended to the file makes every command that opens the run spin (and eat memory) forever;
- OmegaConf interpolations (`${a}${a}...` nested a few levels) do the same later, at the
  first access of the key, and are never memoized;
- nesting thousands of levels deep exhausts Python's recursion in the loader.

`read_yaml_config` therefore scans the file as a stream of YAML events first, which costs
time in proportion to the file's size and never expands anything, and refuses at the first
anchor, alias or interpolation, past `max_nodes` nodes or `max_depth` levels; the size is
checked before a byte is read. A config that `aecli train` wrote has none of these (it saves
the config resolved), so nothing legitimate is refused. Only then does OmegaConf parse the
text, with its own YAML rules (floats like `1e-3`, no timestamps, duplicate keys refused).
Every problem is one `UserError` line naming the file and the fix.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

from aecli.errors import UserError

# A resolved train config is about 1 KiB and 150 nodes; these leave room for long lists
# (exclude_classes, hidden_dims, a user's own keys) while keeping the worst case well under a second.
MAX_BYTES = 1 << 20
MAX_NODES = 20_000
MAX_DEPTH = 64

DEFAULT_FIX = "restore the run's own .hydra/config.yaml as aecli train wrote it"

# libyaml's parser when PyYAML was built with it: the event scan stays fast on a large file.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml_config(
    path: str | os.PathLike,
    max_bytes: int = MAX_BYTES,
    max_nodes: int = MAX_NODES,
    *,
    max_depth: int = MAX_DEPTH,
    fix: str = DEFAULT_FIX,
) -> DictConfig:
    """The YAML mapping in `path` as a DictConfig, or a one-line UserError ending in `fix` when the
    file is missing, too large, too deep, has too many nodes, uses anchors, aliases or
    interpolations, is not valid YAML or is not a mapping."""
    path = Path(path)
    text = _read_capped(path, max_bytes, fix)
    _scan(path, text, max_nodes, max_depth, fix)
    try:
        cfg = OmegaConf.create(text)
    except Exception as error:  # YAML and OmegaConf raise many types for a damaged file
        raise UserError(f"cannot read {path} ({_first_line(error)}); {fix}") from None
    if not isinstance(cfg, DictConfig) or not text.strip():
        raise UserError(f"{path} holds no config mapping; {fix}")
    return cfg


def read_yaml_list(path: str | os.PathLike, *, fix: str = DEFAULT_FIX) -> list:
    """The YAML list in `path` (a sweep job's .hydra/overrides.yaml) as plain Python values, with
    the same limits as `read_yaml_config`. Strings are kept as written: "${...}" in an override
    is text here, never resolved, so it is allowed."""
    path = Path(path)
    text = _read_capped(path, MAX_BYTES, fix)
    _scan(path, text, MAX_NODES, MAX_DEPTH, fix, interpolations=True)
    try:
        value = yaml.load(text, Loader=_Loader)  # bounded: the scan refused anchors and aliases
    except yaml.YAMLError as error:
        raise UserError(f"cannot read {path} ({_first_line(error)}); {fix}") from None
    if not isinstance(value, list):
        raise UserError(f"{path} holds no list; {fix}")
    return value


def _read_capped(path: Path, max_bytes: int, fix: str) -> str:
    try:
        info = path.stat()
    except OSError as error:
        raise UserError(f"cannot read {path} ({error.strerror or error}); {fix}") from None
    if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
        raise UserError(f"{path} is not a regular file; {fix}")
    if info.st_size > max_bytes:
        raise UserError(f"{path} is {info.st_size:,} bytes, over the {max_bytes:,}-byte limit for a run's config; {fix}")
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)  # the file may grow after the stat
    except OSError as error:
        raise UserError(f"cannot read {path} ({error.strerror or error}); {fix}") from None
    if len(data) > max_bytes:
        raise UserError(f"{path} is over the {max_bytes:,}-byte limit for a run's config; {fix}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text; {fix}") from None


def _scan(path: Path, text: str, max_nodes: int, max_depth: int, fix: str, interpolations: bool = False) -> None:
    """Walk the YAML events once, refusing what could make loading or resolving unbounded."""
    nodes = depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            line = event.start_mark.line + 1 if event.start_mark else "?"
            if isinstance(event, yaml.AliasEvent):
                raise UserError(
                    f"{path} uses the YAML alias *{event.anchor} (line {line}); aliases can expand without "
                    f"bound and aecli never writes them; {fix}"
                )
            if not isinstance(event, yaml.NodeEvent):
                if isinstance(event, yaml.CollectionEndEvent):
                    depth -= 1
                continue
            if event.anchor is not None:
                raise UserError(
                    f"{path} uses the YAML anchor &{event.anchor} (line {line}); anchors and aliases can expand "
                    f"without bound and aecli never writes them; {fix}"
                )
            nodes += 1
            if nodes > max_nodes:
                raise UserError(f"{path} has over {max_nodes:,} YAML nodes, too many for a run's config; {fix}")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    raise UserError(f"{path} nests over {max_depth} levels deep (line {line}), too deep for a run's config; {fix}")
            elif not interpolations and isinstance(event, yaml.ScalarEvent) and "${" in event.value:
                raise UserError(
                    f"{path} holds the interpolation {_shorten(event.value)!r} (line {line}); a run's saved config "
                    f"is resolved, and interpolations can expand without bound; {fix}"
                )
    except yaml.YAMLError as error:
        raise UserError(f"cannot read {path} ({_first_line(error)}); {fix}") from None


def _shorten(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _first_line(error: Exception) -> str:
    """A YAML error's problem and position on one line (its str spans several)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None)
    if problem and mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
