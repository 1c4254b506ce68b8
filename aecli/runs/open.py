"""Find a finished run directory's parts: its folder, its config (with a command's overrides)
and a checkpoint, each checked to exist and to belong together (aecli.api rebuilds the run
from them). Every check happens before anything is written, and each problem a user can fix
is one `UserError` line. The checks on paths and config need no torch, so a mistyped run
answers at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from aecli.config import keys
from aecli.errors import UserError
from aecli.runs.find import chosen_run
from aecli.runs.lock import hold_run_lock
from aecli.runs.store import read_run_config, writable_problem


@contextmanager
def writing_into_run(run: str | Path, command: str) -> Iterator[None]:
    """Hold the run folder's lock for a command that writes into it (metrics.json, TensorBoard,
    PNG files), after checking, before any work, that the folder and its tensorboard/ can be
    written. A missing folder is left to `locate_run`, which says what run= needs."""
    path = Path(str(run)).expanduser()
    if not path.is_dir():
        yield
        return
    fix = f"aecli {command} writes its results there: copy the run (cp -r) to a writable folder and run it on the copy"
    for folder in (path, path / "tensorboard"):
        problem = folder.is_dir() and writable_problem(folder, fix)
        if problem:
            raise UserError(problem)
    with hold_run_lock(path, command):
        yield


def command_overrides(cfg: DictConfig, own_keys: set[str]) -> dict[str, Any]:
    """The part of a command's config that is meant for the run's config: every top-level key the
    command does not own. The run settings its YAML holds at null (keys.RUN_SETTINGS) keep the
    run's own value; any other key applies as given, null included (+dataset.train_size=null)."""
    container = OmegaConf.to_container(cfg, resolve=True)
    overrides = {key: value for key, value in container.items() if key not in own_keys and key != "hydra"}
    for key in keys.RUN_SETTINGS:  # each GROUP.KEY
        group, leaf = key.split(".")
        node = overrides.get(group)
        if isinstance(node, dict) and leaf in node and node[leaf] is None:
            del node[leaf]
            if not node:
                del overrides[group]
    return overrides


def locate_run(
    run: str | Path, checkpoint: str, overrides: dict[str, Any] | None = None, trust_code: bool = False
) -> tuple[Path, DictConfig, Path]:
    """The run's folder, its config with `overrides` applied, and the checkpoint's path, all
    checked to exist (no torch needed); a config that names code (`_target_`) is refused unless
    `trust_code` (aecli.runs.store.refuse_code). `run` may be `latest` or a run's name (aecli.runs.find)."""
    path = chosen_run(run)
    keys.RUN_COMMAND["checkpoint"].check("checkpoint", checkpoint)
    if not path.is_dir():
        raise UserError(f"run directory {path} does not exist; pass run=DIR, a directory written by aecli train, "
                        f"run=latest or run=NAME")
    config_path = path / ".hydra" / "config.yaml"
    if not config_path.is_file():
        raise UserError(
            f"{path} is not an aecli run directory (no .hydra/config.yaml); pass run=DIR, a directory written by aecli train"
        )
    cfg = read_run_config(config_path, "pass run=DIR, a directory written by aecli train", trust_code)
    cfg = _apply_overrides(cfg, overrides or {}, config_path)

    checkpoint_path = path / "checkpoints" / f"{checkpoint}.pt"
    if not checkpoint_path.is_file():
        other = "last" if checkpoint == "best" else "best"
        raise UserError(
            f"run {path} has no checkpoints/{checkpoint}.pt; train it to the end of an epoch first, "
            f"or try checkpoint={other}"
        )
    return path, cfg, checkpoint_path


def _apply_overrides(cfg: DictConfig, overrides: dict[str, Any], config_path: Path) -> DictConfig:
    """Merge `overrides` into the run's config; a key the run's config lacks is a typo."""
    OmegaConf.set_struct(cfg, True)
    try:
        merged = OmegaConf.merge(cfg, overrides)
    except Exception as error:  # OmegaConf's key and type errors
        key = getattr(error, "full_key", "") or ""
        raise UserError(
            f"cannot apply the override {key or 'given'} to the run's config {config_path} "
            f"({str(error).splitlines()[0]}); use only keys that config has"
        ) from None
    OmegaConf.set_struct(merged, False)
    return merged


def check_same_model(payload: dict[str, Any], cfg: DictConfig, checkpoint_path: Path, trust_code: bool = False) -> None:
    """The checkpoint must come from this run's architecture and likelihood (and, like the run's
    config, name no code unless `trust_code`)."""
    from aecli.runs.config import migrate
    from aecli.runs.store import refuse_code

    saved = payload.get("config")
    if not isinstance(saved, dict):
        raise UserError(f"{checkpoint_path} holds no config; it was not written by aecli train")
    if not trust_code:
        refuse_code(saved, f"the config inside {checkpoint_path}")
    saved = OmegaConf.to_container(migrate(OmegaConf.create(saved)))  # as the run's config, brought up to date
    for key in ("model", "likelihood"):
        mine = OmegaConf.to_container(cfg[key], resolve=True) if key in cfg else None
        if saved.get(key) != mine:
            raise UserError(
                f"{checkpoint_path} was written for {key} {saved.get(key)}, but the run's config says {mine}; "
                f"restore the run's .hydra/config.yaml (and give no {key}.* overrides)"
            )

