"""Hydra's own user errors as one line, exit status 2, with the nearest real key or option.

`aecli.cli` runs each command's Hydra app with HYDRA_FULL_ERROR=1, Hydra's documented switch
that makes it raise instead of printing a multi-line report and exiting 1 (which the README
keeps for bugs). What it raises before the task starts is the user's to fix: an option that
does not exist (`model=transformer`), a key that does not (`trainer.epoch=3`), an override
that does not parse, a missing -cd folder, a broken YAML file in a user's config folder.
`hydra_error_line` words those; anything else (a bug) is left to surface as a traceback.

OmegaConf's key errors carry the node the key was looked up in (`parent_node`) and the key's
dotted path (`full_key`); Hydra's missing-option error carries the available `options`.
These are public attributes of their exception classes; tests/test_cli.py fails loudly if
either library stops setting them.
"""

from __future__ import annotations

from typing import Any

from aecli.config.schema import nearest

SEE_KEYS = "aecli {command} --help lists every group and key"


def hydra_error_line(error: BaseException, command: str) -> str | None:
    """The one line for a Hydra-level user error (without the 'aecli CMD: error: ' prefix), or None."""
    import yaml
    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException, SearchPathException

    if isinstance(error, yaml.YAMLError):
        return _yaml_line(error)
    if isinstance(error, MissingConfigException):
        return _missing_option_line(error, command)
    if isinstance(error, ConfigCompositionException):
        return _unknown_key_line(error, command)
    if isinstance(error, (OverrideParseException, SearchPathException)):
        return f"{_first_line(error)}; check the command line's overrides and flags"
    return None


def _missing_option_line(error: Any, command: str) -> str:
    wanted = str(getattr(error, "missing_cfg_file", "") or "")
    group, _, option = wanted.rpartition("/")
    options = [str(o) for o in (getattr(error, "options", None) or [])]
    if not group or not options:
        return f"{_first_line(error)}; {SEE_KEYS.format(command=command)}"
    guess = nearest(option, options)
    hint = f"did you mean {group}={guess}? " if guess else ""
    return f"unknown {group} {option!r}; {hint}choose one of {', '.join(options)}"


def _unknown_key_line(error: BaseException, command: str) -> str:
    cause = error.__cause__
    full_key = getattr(cause, "full_key", None)
    parent = getattr(cause, "parent_node", None)
    if not full_key:
        return f"{_first_line(error)}; {SEE_KEYS.format(command=command)}"
    prefix, _, key = str(full_key).rpartition(".")
    keys = [str(k) for k in parent.keys()] if hasattr(parent, "keys") else []
    guess = nearest(key, keys)
    hint = f"did you mean {prefix + '.' if prefix else ''}{guess}? " if guess else ""
    return f"{full_key} is not a key of the config; {hint}{SEE_KEYS.format(command=command)}"


def _yaml_line(error: Any) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or _first_line(error)
    if mark is None:
        return f"a config file is not valid YAML ({problem}); fix that file"
    context = getattr(error, "context", None)
    where = f"{mark.name}, line {mark.line + 1}, column {mark.column + 1}"
    return f"{where}: {problem}{f' ({context})' if context else ''}; fix the YAML in that file"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
