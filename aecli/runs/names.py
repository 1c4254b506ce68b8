"""Run folder names that say what ran, so TensorBoard's run list reads as experiments:
`outputs/<date>/<time>_<name>` for a run, where the name is `name=` when given, else
`<dataset>-<model>[-<regularizers>]` (a user's own files, `dataset.path`, named by the file or
folder: `shapes-conv`), and `outputs/multirun/<date>/<time>/<job_num>_<what the job overrides>`
for a sweep's job (configs/train.yaml, hydra.run.dir and hydra.sweep.subdir, through the
resolvers below). `run=NAME` finds a run by that part of its folder's name (aecli.runs.find).
`resume=RUN_DIR` (or `latest`, or a run's name) runs in that run's folder itself, where Hydra must
not replace the run's saved config files: hydra.run.dir becomes it and hydra.output_subdir null
(`in_run_folder`, `new_run_only`)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from aecli.errors import UserError
from aecli.runs.find import find_run

MAX_NAME = 120  # characters of a folder name taken from the overrides (file systems allow 255)


def run_name(*, _root_: DictConfig) -> str:
    """The run's `name=` when given, else `<dataset>-<model>[-<reg1>+<reg2>]` of the composed config
    (a user's `_target_` option by its last part, a user's own files by their name)."""
    given = safe_name(OmegaConf.select(_root_, "name", default=None) or "")
    if given:
        return given
    dataset = OmegaConf.select(_root_, "dataset", default=None)
    parts = [_data_name(dataset) or _option_name(dataset), _option_name(OmegaConf.select(_root_, "model", default=None))]
    regularizer = OmegaConf.select(_root_, "regularizer", default=None)
    if isinstance(regularizer, DictConfig) and len(regularizer):
        parts.append("+".join(str(name) for name in regularizer))
    return safe_name("-".join(parts))


def job_name(overrides: str) -> str:
    """Hydra's `override_dirname` of a sweep job (`model.latent_dim=2,trainer.lr=0.01`) made safe as one folder name."""
    return safe_name(overrides) or "defaults"


def safe_name(text: str) -> str:
    """`text` as one folder name: no path separators, quotes, brackets or spaces; at most MAX_NAME characters."""
    return re.sub(r"[^\w.,=+@-]+", "_", str(text)).strip("_")[:MAX_NAME]


def _option_name(node: Any) -> str:
    if not isinstance(node, DictConfig):
        return "custom"
    name = node.get("name") or str(node.get("_target_", "custom")).rpartition(".")[2]
    return str(name)


def _data_name(node: Any) -> str:
    """A user's own data by its own name: the stem of `dataset.path` (declared by the datasets read
    from a user's file or folder), '' for the others."""
    path = node.get("path") if isinstance(node, DictConfig) else None
    if not isinstance(path, str) or not path:
        return ""
    found = Path(os.path.abspath(os.path.expanduser(path)))  # a trailing / or . names the folder itself
    return found.name if found.is_dir() else found.stem


def in_run_folder(resume: Any, new_folder: str) -> str:
    """A run's folder: the resumed run's own (`resume`: a folder, `latest` or a run's name), else
    `new_folder`. A resume that names no run stays as given: the run folder's guard and the resume
    itself say what is wrong, on one line."""
    if resume is None:
        return new_folder
    try:
        return str(find_run(resume, "resume"))
    except UserError:
        return str(resume)


def new_run_only(resume: Any, value: Any) -> Any:
    """`value` for a new run, null for a resumed one, and for every rank but 0 of a distributed run
    (only rank 0 writes into the run folder)."""
    from aecli.runs.ranks import world_from_env

    world = world_from_env()
    return value if resume is None and (world is None or world.main) else None


def started(pattern: str) -> str:
    """When this run started, in `pattern` (strftime): the same on every rank (aecli.runs.ranks)."""
    from aecli.runs.ranks import run_started

    return run_started(pattern)


def register_resolvers() -> None:
    """Make the resolvers above known to OmegaConf as `${aecli.NAME:...}` (before Hydra composes)."""
    for resolver in (run_name, job_name, in_run_folder, new_run_only, started):
        OmegaConf.register_new_resolver(f"aecli.{resolver.__name__}", resolver, replace=True)
