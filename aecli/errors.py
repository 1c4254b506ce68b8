"""User errors: one clear line, a non-zero exit, no traceback.

Raise `UserError` for anything the user can fix (a bad option, missing data, a
combination that cannot work); let every other exception surface as a traceback,
because it is a bug. Exit status: 2 for a user error, 3 when training diverged,
128 + the signal number (130 for SIGINT, 143 for SIGTERM) after a graceful stop.
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any, Callable, TypeVar

from hydra.errors import CompactHydraException

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USER_ERROR = 2
EXIT_DIVERGED = 3


class UserError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""

    exit_code = EXIT_USER_ERROR
    label = "error"


class TrainingDiverged(UserError):
    """A loss term stopped being finite; `metrics` is what metrics.json records about it."""

    exit_code = EXIT_DIVERGED

    def __init__(self, message: str, metrics: dict[str, Any]):
        super().__init__(message)
        self.metrics = metrics


class TrainingStopped(UserError):
    """SIGINT or SIGTERM stopped training after the current step; last.pt holds that point."""

    label = "stopped"

    def __init__(self, message: str, signum: int, metrics: dict[str, Any]):
        super().__init__(message)
        self.exit_code = 128 + signum
        self.metrics = metrics


class JobFailed(CompactHydraException):
    """A sweep job's user error, re-raised so Hydra marks the job failed and prints one line."""


def report_user_errors(command: str) -> Callable[[F], F]:
    """Wrap a Hydra task function so a `UserError` ends the run with one line.

    A single run prints the line, removes a run directory that this run created and that
    holds nothing but Hydra's own files, and exits. In a multirun sweep the error is
    logged and re-raised instead, so Hydra marks that job failed while the launcher still
    runs the others; a graceful stop (Ctrl-C) ends the whole sweep.
    """

    def decorate(task: F) -> F:
        @functools.wraps(task)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return task(*args, **kwargs)
            except UserError as error:
                line = f"aecli {command}: {error.label}: {error}"
                if _in_multirun() and not isinstance(error, TrainingStopped):
                    logging.getLogger("aecli").error("%s", line)
                    raise JobFailed(line) from error
                from aecli.rundir import discard_if_unused

                discard_if_unused()
                print(line, file=sys.stderr)
                sys.exit(error.exit_code)
            except KeyboardInterrupt:  # a second Ctrl-C, or one outside the training loop
                print(f"aecli {command}: interrupted", file=sys.stderr)
                sys.exit(130)

        return wrapper  # type: ignore[return-value]

    return decorate


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
