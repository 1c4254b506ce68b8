"""Reading the next batch while the current one trains: for samples that are not in the training
device's memory (a memory-mapped file, or host memory streamed to a GPU), one background thread
gathers the next batch's rows (pinned, when they go to a GPU) while the model works on this one."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import torch
from torch import Tensor

from aecli.data.base import Split


class Prefetcher:
    """`ask(index)` starts reading the rows at `index`; `batch(index)` hands out the float batch
    at `index`, from the read started for it when there was one."""

    def __init__(self, split: Split):
        self.split = split
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aecli-prefetch")
        self.pending: tuple[Tensor, Future] | None = None

    @staticmethod
    def wanted(split: Split) -> bool:
        """Whether batches of `split` are worth reading ahead (they come from outside device memory)."""
        return split.index is not None or split.streamed

    def ask(self, index: Tensor) -> None:
        self.pending = (index, self.pool.submit(self.split.pinned_rows, index))

    def batch(self, index: Tensor) -> Tensor:
        if self.pending is not None and self.pending[0].shape == index.shape and torch.equal(self.pending[0], index):
            rows = self.pending[1].result()
        else:
            rows = self.split.pinned_rows(index)
        self.pending = None
        return self.split.as_batch(rows)

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
