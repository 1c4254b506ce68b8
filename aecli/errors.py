"""User errors: one clear line, a non-zero exit, no traceback.

Raise `UserError` for anything the user can fix (a bad option, missing data, a
combination that cannot work); let every other exception surface as a traceback,
because it is a bug.
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USER_ERROR = 2


class UserError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


def report_user_errors(command: str) -> Callable[[F], F]:
    """Wrap a Hydra task function so a `UserError` ends the run with one line.

    In a multirun sweep the error is logged and re-raised instead, so Hydra marks
    that job failed while the launcher still runs the others.
    """

    def decorate(task: F) -> F:
        @functools.wraps(task)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return task(*args, **kwargs)
            except UserError as error:
                if _in_multirun():
                    logging.getLogger("aecli").error("aecli %s: error: %s", command, error)
                    raise
                print(f"aecli {command}: error: {error}", file=sys.stderr)
                sys.exit(EXIT_USER_ERROR)

        return wrapper  # type: ignore[return-value]

    return decorate


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
