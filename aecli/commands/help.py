"""`aecli COMMAND --help`: one line per key, `KEY = its value   what it is`, grouped as the
configs are; and the hint for a `--flag` that should have been `key=value`.

Hydra prints a command's help from `hydra.help.template`; every command's YAML sets it to
`${aecli.help:NAME}`, the resolver here (registered by aecli.cli before Hydra composes). It
lists the keys the command declares (aecli.config.keys) and, for train, the keys of each option
chosen (`model=conv --help` lists conv's), with the values these overrides compose and the help
line each key has in its YAML file (aecli.config.yaml_lines); a core key without one gets its
declaration's wording. `$APP_CONFIG_GROUPS` is left for Hydra: the groups and their options,
a -cd folder's included. `--cfg job` still prints the whole config as YAML.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from aecli.config.keys import COMMAND_KEYS, RUN_SETTINGS
from aecli.config.schema import nearest
from aecli.config.yaml_lines import header, key_comments

GROUPS = ("dataset", "model", "regularizer", "likelihood")  # train's option groups, in the order shown
WIDTH = 44  # the column descriptions start in (longer key = value pairs push theirs on)
NO_REGULARIZER = ("none: a plain bottleneck autoencoder (regularizer=vae for one, regularizer=[denoising,sparse_kl] "
                  "for several: their keys are listed here then)")
RUN_SETTINGS_TITLE = ("the run's own settings: null keeps the run's value (any other key of the run's config "
                      "is changed with a leading +, e.g. +dataset.test_size=1000)")


def register_help() -> None:
    """Make `${aecli.help:NAME}` known to OmegaConf (before Hydra composes a command's config)."""
    OmegaConf.register_new_resolver("aecli.help", command_help, replace=True)


def command_help(config_name: str, *, _root_: DictConfig) -> str:
    """The help text of the command whose config is configs/`config_name`.yaml, as composed in `_root_`."""
    text = shipped_text(config_name)
    command = "aecli " + config_name.replace("_", "-")
    rows: list[tuple[str, str] | str] = [header(text), ""]
    if config_name == "train":
        rows += ["== Config groups == choose one option of each: GROUP=OPTION (the keys below follow the options "
                 f"chosen, e.g. {command} model=conv --help)", "$APP_CONFIG_GROUPS",
                 "== Keys == KEY = its value with these overrides, then what it is; change one with KEY=VALUE"]
        for group in GROUPS:
            rows += option_rows(group, _root_)
    else:
        rows += ["== Keys == KEY = its value, then what it is (??? : required); change one with KEY=VALUE"]
    rows += declared_rows(config_name, text, _root_)
    rows += ["", f"{command} --cfg job prints the whole config these overrides compose, as YAML; --hydra-help "
             "lists Hydra's own flags (-m sweeps, -cd DIR adds your own configs; docs/configuration.md)."]
    return "\n".join(row if row == "$APP_CONFIG_GROUPS" else aligned(row).replace("$", "$$") for row in rows)


def aligned(row: tuple[str, str] | str) -> str:
    if isinstance(row, str):
        return row
    left, meaning = row
    return f"{left.ljust(WIDTH)}  {meaning}".rstrip() if meaning else left


def shipped_text(config_name: str) -> str:
    return resources.files("aecli.configs").joinpath(f"{config_name}.yaml").read_text()


def declared_rows(config_name: str, text: str, root: DictConfig) -> list[tuple[str, str] | str]:
    """The command's own keys in the order of its YAML, a section per node (top-level keys first),
    then the run settings a command on a finished run passes on."""
    declared = COMMAND_KEYS[config_name]
    comments = key_comments(text)
    ordered = [key for key in comments if key in declared] + [key for key in declared if key not in comments]
    sections: dict[str, list[str]] = {}
    for key in ordered:
        sections.setdefault(key.split(".")[0] if "." in key else "", []).append(key)
    rows: list[tuple[str, str] | str] = []
    for section, keys in sections.items():
        title = section or "general"
        rows.append(f"{title}: {comments[section]}" if comments.get(section) else title)
        rows += [key_row(root, key, comments.get(key) or wording(declared[key])) for key in keys]
    run_settings = [key for key in RUN_SETTINGS if config_name != "train" and key in comments]
    if run_settings:
        rows.append(RUN_SETTINGS_TITLE)
        rows += [key_row(root, key, comments[key]) for key in run_settings]
    return rows


def option_rows(group: str, root: DictConfig) -> list[tuple[str, str] | str]:
    """The section of one option group of train: the option chosen and its keys."""
    node = OmegaConf.select(root, group, default=None)
    if group == "regularizer":
        names = list(node) if isinstance(node, DictConfig) else []
        if not names:
            return [(f"{group}=[]", NO_REGULARIZER)]
        return [row for name in names for row in option_section(group, str(name), node[name], f"regularizer.{name}")]
    if not isinstance(node, DictConfig):
        return [f"{group}: (none)"]
    name = str(node.get("name") or str(node.get("_target_", "custom")).rpartition(".")[2])
    return option_section(group, name, node, group)


def option_section(group: str, name: str, node: DictConfig, prefix: str) -> list[tuple[str, str] | str]:
    text = option_text(group, name)
    comments = key_comments(text, prefix) if text else {}
    target = node.get("_target_")
    about = first_sentence(header(text)) or (f"your own option: _target_ {target}" if target else "")
    rows: list[tuple[str, str] | str] = [(f"{group}={name}", about)]
    for key in leaf_keys(node, prefix):
        if key.rpartition(".")[2] not in ("name", "_target_"):
            rows.append(key_row(node, key[len(prefix) + 1:], comments.get(key, ""), shown=key))
    return rows


def config_folders() -> list[Path]:
    """The folders configs come from: those the command line added with -cd/--config-dir (first:
    they win), then the shipped config tree."""
    import sys

    args = sys.argv[1:]
    folders = [Path(args[i + 1]) for i, arg in enumerate(args[:-1]) if arg in ("-cd", "--config-dir")]
    folders += [Path(arg.split("=", 1)[1]) for arg in args if arg.startswith(("--config-dir=", "-cd="))]
    return [*folders, Path(str(resources.files("aecli.configs")))]


def option_text(group: str, name: str) -> str:
    """The YAML file of option `name` of `group` (a -cd folder's first), or '' when there is none."""
    for folder in config_folders():
        path = folder / group / f"{name}.yaml"
        if path.is_file():
            return path.read_text()
    return ""


def leaf_keys(node: DictConfig | dict, prefix: str) -> list[str]:
    """The dotted keys of a node's leaves (a list is one leaf), interpolations left unresolved."""
    container = OmegaConf.to_container(node, resolve=False) if isinstance(node, DictConfig) else node
    keys = []
    for key, child in container.items():
        if isinstance(child, dict) and child:
            keys += leaf_keys(child, f"{prefix}.{key}")
        else:
            keys.append(f"{prefix}.{key}")
    return keys


def key_row(node: DictConfig, key: str, meaning: str, shown: str | None = None) -> tuple[str, str]:
    return f"  {shown or key} = {value_text(node, key)}", meaning


def value_text(node: DictConfig, key: str) -> str:
    """A key's value as it is written on the command line ('???' for a required one)."""
    parent_key, _, last = key.rpartition(".")
    parent = OmegaConf.select(node, parent_key) if parent_key else node
    if not isinstance(parent, DictConfig) or last not in parent.keys():  # `in` leaves out a missing (???) value
        return "?"
    if OmegaConf.is_missing(parent, last):
        return "???"
    try:
        value = parent[last]
    except Exception:  # an interpolation only a run resolves: shown as written
        return str(OmegaConf.to_container(parent, resolve=False)[last])
    return yaml_value(value)


def yaml_value(value: Any) -> str:
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value, resolve=True)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    text = str(value)
    return f"'{text}'" if isinstance(value, str) and (not text or re.search(r"[\s,\[\]{}=]", text)) else text


def wording(spec: Any) -> str:
    """A declaration's requirement as a description: 'be a positive integer' -> 'a positive integer'."""
    return re.sub(r"^be ", "", spec.wording())


def first_sentence(text: str, limit: int = 110) -> str:
    sentence = re.split(r"(?<=\.)\s+(?=[A-Z`])", text, maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 3].rstrip() + "..."


def flag_hint(config_name: str, flag: str, value: str | None) -> str:
    """The line for an unknown `--flag` (typed as --name, --name=value or --name value): the
    key=value it likely meant, found by the key's last part among the command's keys (train: its
    groups and every shipped option's keys too)."""
    typed = flag.split("=", 1)[0]
    name = typed.lstrip("-").replace("-", "_")
    known = known_keys(config_name)
    lasts = {key: key.rpartition(".")[2] for key in known}
    guess = name if name in lasts.values() else nearest(name, list(lasts.values()))
    key = name if name in known else next((k for k, last in lasts.items() if last == guess), None)
    command = "aecli " + config_name.replace("_", "-")
    if key is None:
        return f"unknown flag {typed}; settings are key=value (e.g. seed=1); {command} --help lists every key"
    example = value if value is not None else known[key] if known[key] not in (None, "null") else "N"
    return f"unknown flag {typed}; settings are key=value, e.g. {key}={example}"


def known_keys(config_name: str) -> dict[str, str]:
    """`key -> its default as written` for the keys a flag may have meant, the command's own first."""
    import yaml

    settings = yaml.safe_load(shipped_text(config_name)) or {}
    own = COMMAND_KEYS[config_name].keys() | (set() if config_name == "train" else set(RUN_SETTINGS))
    known = {key: yaml_value(dotted(settings, key)) for key in own}
    if config_name == "train":
        defaults = [entry for entry in settings.get("defaults", []) if isinstance(entry, dict)]
        known |= {group: str(entry[group] or "NAME") for entry in defaults for group in entry if group in GROUPS}
        root = Path(str(resources.files("aecli.configs")))
        for group in GROUPS:
            for path in sorted((root / group).glob("*.yaml")):
                prefix = f"regularizer.{path.stem}" if group == "regularizer" else group
                option = yaml.safe_load(path.read_text()) or {}
                known |= {f"{prefix}.{key}": yaml_value(value) for key, value in option.items()
                          if key not in ("name", "defaults") and f"{prefix}.{key}" not in known}
    return known


def dotted(settings: dict, key: str) -> Any:
    for part in key.split("."):
        settings = settings.get(part) if isinstance(settings, dict) else None
    return settings
