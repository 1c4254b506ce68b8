"""What made a run, recorded in its metrics.json (and its hashes in last.pt, across sessions): a
hash of the composed config (`config_hash`, without the keys that say only where or how the run
happens) and of the config as the run saved it (`saved_config_hash`: an edit of
.hydra/config.yaml afterwards shows), the same two without every key at the value it had before
it existed (`settings_hash`, `saved_settings_hash`: a key added to aecli later, at its old value,
changes no run's settings hash), and the versions of aecli (with its git revision when it runs
from a checkout), torch and Python. The results page reuses a run only when its hashes match
(aecli.results.runner)."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

# Keys that say only where or how a run happens, not what it computes (and the results page's
# claim: block, which words the run, and its name, which names its folder): they do not enter the hash.
PLACE_KEYS = (
    "data.root", "data.download", "data.placement", "trainer.device", "trainer.devices", "trainer.num_threads", "trainer.progress",
    "resume", "trust_code", "claim", "name",
)


def config_hash(cfg: DictConfig | dict[str, Any]) -> str:
    """A short SHA-256 of the config's values (resolved; PLACE_KEYS left out), the same for the same
    settings whatever their order or where the run happens."""
    container = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    for key in PLACE_KEYS:
        parent, _, leaf = key.rpartition(".")
        node = container.get(parent) if parent else container
        if isinstance(node, dict):
            node.pop(leaf, None)
    text = json.dumps(container, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def settings_hash(cfg: DictConfig) -> str:
    """`config_hash` of the config without every declared key at its old value (the run's settings,
    whenever it was written: aecli.runs.config.without_old_values)."""
    from aecli.runs.config import without_old_values

    return config_hash(without_old_values(cfg))


def hashes(cfg: DictConfig) -> dict[str, str]:
    """The composed config's `config_hash` and `settings_hash`."""
    return {"config_hash": config_hash(cfg), "settings_hash": settings_hash(cfg)}


def versions() -> dict[str, str | None]:
    """aecli's version and git revision (None outside a checkout), torch's and Python's."""
    import torch

    from aecli import __version__

    return {"aecli_version": __version__, "git_revision": git_revision(), "torch_version": torch.__version__,
            "python_version": platform.python_version()}


def git_revision() -> str | None:
    """The commit aecli's source runs from, with "-dirty" when tracked files differ from it; None
    when aecli is not imported from the top of a git checkout (an installed package, no git)."""
    package = Path(__file__).resolve().parents[1]
    try:
        top = _git(package.parent, "rev-parse", "--show-toplevel")
        if Path(top).resolve() != package.parent:  # a venv inside some other repository's tree
            return None
        revision = _git(package.parent, "rev-parse", "--short=12", "HEAD")
        dirty = _git(package.parent, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return revision + ("-dirty" if dirty else "")


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10, check=True)
    return done.stdout.strip()


def made_by(settled: DictConfig, composed: dict[str, str] | None, recorded: dict[str, Any]) -> dict[str, Any]:
    """What made the run, for metrics.json and last.pt: the hashes of the config it was composed
    from (`composed`, `hashes` computed before the options chose for each other; None for a
    resume), of the config it settled on and saved, and the versions. A resumed run keeps its
    recorded composed hashes while its settled config still hashes as recorded (only place keys
    were given); else it is a different run than the one composed, and hashes as it now stands."""
    saved = {"saved_config_hash": config_hash(settled), "saved_settings_hash": settings_hash(settled)}
    if composed is None:
        same = recorded.get("saved_config_hash") == saved["saved_config_hash"] and recorded.get("config_hash")
        composed = ({key: recorded.get(key) for key in HASHES} if same
                    else {"config_hash": saved["saved_config_hash"], "settings_hash": saved["saved_settings_hash"]})
        if composed.get("settings_hash") is None:  # recorded by an aecli before settings hashes
            composed["settings_hash"] = saved["saved_settings_hash"]
    return {**composed, **saved, **versions()}


HASHES = ("config_hash", "settings_hash")
KEPT = (*HASHES, "saved_config_hash", "saved_settings_hash")  # what last.pt keeps across sessions
