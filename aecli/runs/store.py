"""Plain files of a run folder: atomic writes, metrics.json, the saved config.

Every file aecli writes into a run goes through `atomic_write`: a temporary file in the same
folder, flushed and fsynced, then renamed over the old one (and the folder fsynced), so a
crash mid-write leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from aecli.errors import UserError


def atomic_write(path: str | os.PathLike, write: Any) -> None:
    """Call `write(handle)` on a temporary file beside `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable, so a power cut cannot bring back the old file."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_run_config(config_path: Path, fix: str) -> DictConfig:
    """A run's saved .hydra/config.yaml, migrated to this version of aecli (aecli.config.migrate);
    a UserError ending in `fix` when it is damaged or foreign."""
    from aecli.config.migrate import migrate

    try:
        cfg = OmegaConf.load(config_path)
    except Exception as error:  # YAML and OmegaConf raise many types for a damaged file
        raise UserError(f"cannot read {config_path} ({type(error).__name__}); restore the run's config file")
    if not isinstance(cfg, DictConfig) or not {"model", "dataset", "trainer"} <= set(cfg):
        raise UserError(f"{config_path} is not an aecli train config; {fix}")
    return migrate(cfg)


def read_metrics(run_dir: Path) -> dict[str, Any]:
    """The run's metrics.json as a dict ({} when there is none yet)."""
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        return {}
    try:
        existing = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read {path} ({type(error).__name__}); fix it or move it away, then run again")
    if not isinstance(existing, dict):
        raise UserError(f"{path} is not one JSON object; fix it or move it away, then run again")
    return existing


def merge_metrics(run_dir: Path, metrics: dict[str, Any], drop: tuple[str, ...] = ()) -> None:
    """Add or update `metrics` in the run's metrics.json, keeping every other key but the
    `drop` ones (atomic write)."""
    kept = {key: value for key, value in read_metrics(run_dir).items() if key not in drop}
    text = json.dumps(kept | metrics, indent=2) + "\n"
    atomic_write(Path(run_dir) / "metrics.json", lambda handle: handle.write(text.encode()))


def save_config(path: Path, cfg: DictConfig) -> None:
    """The resolved config as YAML (atomic write)."""
    text = OmegaConf.to_yaml(cfg)
    atomic_write(path, lambda handle: handle.write(text.encode()))
