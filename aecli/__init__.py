"""aecli: a command-line experiment runner for autoencoders.

`aecli.load_run(run_dir)` reopens a finished run from Python (aecli.api); it is imported on
first use, so `import aecli` stays light and `aecli --help` answers at once.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_run"]


def __getattr__(name: str) -> Any:
    if name == "load_run":
        from aecli.api import load_run

        return load_run
    raise AttributeError(f"module 'aecli' has no attribute {name!r}")
