"""User errors: one clear line, a non-zero exit, no traceback.

Raise `UserError` for anything the user can fix (a bad option, missing data, a
combination that cannot work); let every other exception surface as a traceback,
because it is a bug. This module depends on nothing (the commands turn these into exit
codes: aecli.commands.user_errors). Exit status: 2 for a user error, 3 when training diverged,
128 + the signal number (130 for SIGINT, 143 for SIGTERM) after a graceful stop.
"""

from __future__ import annotations

from typing import Any

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
