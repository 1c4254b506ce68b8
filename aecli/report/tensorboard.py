"""TensorBoard's writer thread: a failed write there (a full disk) becomes the caller's one-line
error instead of a thread traceback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aecli.private_apis import tensorboard_writer_thread_class


@contextmanager
def quiet_writer_thread_failures() -> Iterator[None]:
    """Inside the `with`, a failed write in TensorBoard's background writer thread (a full
    disk) prints no thread traceback: the writer keeps the exception and raises it again in
    the caller's next add_*/flush/close, where the command turns it into one line. Other
    threads' exceptions are printed as usual."""
    previous = threading.excepthook
    writer_thread = tensorboard_writer_thread_class()

    def hook(args: Any) -> None:
        if not (isinstance(args.exc_value, OSError) and isinstance(args.thread, writer_thread)):
            previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous



class NullWriter:
    """A SummaryWriter that writes nothing: what the ranks other than 0 of a distributed run log to."""

    def __enter__(self) -> NullWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None
