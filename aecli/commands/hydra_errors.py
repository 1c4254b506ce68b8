"""Hydra's own user errors as one line, exit status 2, with the nearest real key or option.

`aecli.cli` runs each command's Hydra app with HYDRA_FULL_ERROR=1, Hydra's documented switch
that makes it raise instead of printing a multi-line report and exiting 1 (which the README
keeps for bugs). What it raises before the task starts is the user's to fix: an option that
does not exist (`model=transformer`), a key that does not (`trainer.epoch=3`), an override
that does not parse, a missing -cd folder, a broken YAML file in a user's config folder.
`hydra_error_line` words those; anything else (a bug) is left to surface as a traceback.

OmegaConf's key errors carry the node the key was looked up in (`parent_node`) and the key's
dotted path (`full_key`); Hydra's missing-option error carries the available `options` (not for
an option inside a list, `regularizer=[denoising,typo]`: then they are the YAML files of that
group in the shipped config tree and the -cd folders of the command line). These are public
attributes of their exception classes; tests/test_cli.py fails loudly if either library stops
setting them.
A missing launcher or sweeper is a plugin that is not installed: the line says which to install.
"""

from __future__ import annotations

from typing import Any

from aecli.config.schema import nearest

SEE_KEYS = "aecli {command} --help lists every group and key"

# Sweep plugins (pip install 'aecli[sweeps]'): the option a user names -> the package that brings it.
PLUGINS = {
    "hydra/launcher=joblib": "hydra-joblib-launcher",
    "hydra/launcher=submitit_local": "hydra-submitit-launcher",
    "hydra/launcher=submitit_slurm": "hydra-submitit-launcher",
    "hydra/sweeper=optuna": "hydra-optuna-sweeper",
}
# How a group's options compose, where the plain list of choices does not say it.
GROUP_HINTS = {"regularizer": " (several as a list: regularizer=[denoising,sparse_kl]; none: regularizer=[])"}


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
    if f"{group}={option}" in PLUGINS:
        return f"{group}={option} needs the {PLUGINS[group + '=' + option]} plugin; install the sweep extras: pip install 'aecli[sweeps]'"
    options = [str(o) for o in (getattr(error, "options", None) or [])] or group_options(group)
    if not group or not options:
        return f"{_first_line(error)}; {SEE_KEYS.format(command=command)}"
    guess = nearest(option, options)
    hint = f"did you mean {group}={guess}? " if guess else ""
    return f"unknown {group} {option!r}; {hint}choose one of {', '.join(options)}{GROUP_HINTS.get(group, '')}"


def group_options(group: str) -> list[str]:
    """The options of config group `group`: its YAML files in the shipped config tree and in any
    folder the command line added with -cd/--config-dir."""
    from aecli.commands.help import config_folders

    folders = config_folders()
    return sorted({path.stem for folder in folders if group and (folder / group).is_dir() for path in (folder / group).glob("*.yaml")})




def _unknown_key_line(error: BaseException, command: str) -> str:
    cause = error.__cause__
    full_key = getattr(cause, "full_key", None)
    parent = getattr(cause, "parent_node", None)
    if not full_key:
        return f"{_first_line(error)}; {SEE_KEYS.format(command=command)}"
    prefix, _, key = str(full_key).rpartition(".")
    keys = [str(k) for k in parent.keys()] if hasattr(parent, "keys") else []
    guess = nearest(key, keys)
    hint = f"did you mean {prefix + '.' if prefix else ''}{guess}? " if guess else _elsewhere(key, command)
    return f"{full_key} is not a key of the config; {hint}{SEE_KEYS.format(command=command)}"


def _elsewhere(key: str, command: str) -> str:
    """'did you mean trainer.epochs? ' for a key typed without its node (epochs=5), or ''."""
    from aecli.commands.help import known_keys

    found = [k for k in known_keys(command.replace("-", "_")) if k.rpartition(".")[2] == key and k != key]
    return f"did you mean {found[0]}? " if found else ""


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
