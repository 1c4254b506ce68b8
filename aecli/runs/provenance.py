"""What made a run, recorded in its metrics.json (and its hashes in last.pt, across sessions): a
hash of the composed config (`config_hash`, without the keys that say only where or how the run
happens) and of the config as the run saved it (`saved_config_hash`: an edit of
.hydra/config.yaml afterwards shows), and the versions of aecli (with its git revision when it
runs from a checkout), torch and Python. The results page reuses a run only when its hashes match
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
# claim: block, which words the run): they do not enter the hash.
PLACE_KEYS = (
    "data.root", "data.download", "data.placement", "trainer.device", "trainer.num_threads", "trainer.progress",
    "resume", "trust_code", "claim",
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


def made_by(settled: DictConfig, composed: str | None, recorded: dict[str, Any]) -> dict[str, Any]:
    """What made the run, for metrics.json and last.pt: the hash of the config it was composed from
    (`composed`, computed before the options chose for each other; None for a resume), of the
    config it settled on and saved, and the versions. A resumed run keeps its recorded composed
    hash while its settled config still hashes as recorded (only place keys were given); else it
    is a different run than the one composed, and hashes as it now stands."""
    saved = config_hash(settled)
    if composed is None:
        same = recorded.get("saved_config_hash") == saved and recorded.get("config_hash")
        composed = recorded["config_hash"] if same else saved
    return {"config_hash": composed, "saved_config_hash": saved, **versions()}
