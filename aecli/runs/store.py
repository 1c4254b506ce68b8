"""Plain files of a run folder: atomic writes, metrics.json, the saved config, and where its
TensorBoard event files go.

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
from aecli.runs.write_failures import write_failure_cause

# What a diverged run records in metrics.json; a later successful train or resume drops them.
FAILURE_KEYS = ("failure", "failure_epoch", "failure_step", "failure_term")


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
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        cause = write_failure_cause(error)
        if cause is not None and not cause.filename:  # a write to a file object names no file: name ours
            cause.filename = str(path)
        raise
    _fsync_folder(path.parent)


def writable_problem(folder: Path, fix: str) -> str | None:
    """Why nothing can be written in `folder` (a read-only file system, no permission), ending
    in `fix`; None when a file can be created there. Trying beats os.access, which says yes to
    root everywhere, even on a read-only mount."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return f"cannot write in the run directory {folder} ({error.strerror or error}); {fix}"
    return None


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


def read_run_config(config_path: Path, fix: str, trust_code: bool = False) -> DictConfig:
    """A run's saved .hydra/config.yaml (read with aecli.runs.safe_yaml's limits), migrated to this
    version of aecli (aecli.runs.config); a UserError ending in `fix` when it is damaged or foreign,
    and one naming the key when it names code to import (`_target_`) and `trust_code` is off."""
    from aecli.runs.config import migrate
    from aecli.runs.safe_yaml import read_yaml_config

    # Untrusted like a foreign checkpoint: no anchors, aliases or interpolations, bounded size.
    cfg = read_yaml_config(config_path)
    if not {"model", "dataset", "trainer"} <= set(cfg):
        raise UserError(f"{config_path} is not an aecli train config; {fix}")
    if not trust_code:
        refuse_code(OmegaConf.to_container(cfg), str(config_path))
    return migrate(cfg)


def refuse_code(config: Any, source: str) -> None:
    """A run folder is data: a `_target_` anywhere in a config read back from one (any group, any
    depth) would make aecli import and call what it names, so it is refused, naming the key and
    the opt-in of this invocation."""
    found = _code_key(config, "")
    if found is not None:
        key, value = found
        raise UserError(
            f"{source} names code to import at {key}={value}; a run folder is data and aecli imports nothing it "
            f"names unless you trust it: pass trust_code=true (Python: aecli.load_run(path, trust_code=True))"
        )


def _code_key(value: Any, prefix: str) -> tuple[str, Any] | None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "_target_":
                return f"{prefix}{key}", item
            found = _code_key(item, f"{prefix}{key}.")
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _code_key(item, f"{prefix}{index}.")
            if found is not None:
                return found
    return None


EVENTS_GLOB = "events.out.tfevents.*"


def events_folder(run_dir: str | os.PathLike) -> Path:
    """The folder of the run's TensorBoard event files: `tensorboard/<run folder name>/`, so that
    TensorBoard names the run after its folder whether it is pointed at the run
    (`tensorboard/<name>`), at its tensorboard/ (`<name>`) or at a tree of runs. A run whose
    events are already elsewhere under tensorboard/ keeps writing there, so its curves stay one run
    in TensorBoard: one written before this layout (events in tensorboard/ itself), or a run
    folder renamed since (the one subfolder that holds events)."""
    run_dir = Path(run_dir)
    root = run_dir / "tensorboard"
    if any(root.glob(EVENTS_GLOB)):
        return root
    holding = {events.parent for events in root.glob(f"*/{EVENTS_GLOB}")}
    return holding.pop() if len(holding) == 1 else root / run_dir.name


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
