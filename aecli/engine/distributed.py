"""One run on several processes: torch.distributed with DistributedDataParallel (NCCL on GPUs, gloo
on the CPU). Where a process stands in the run is its `World`; the loop asks it which slice of a
batch or a split is its own and sums figures over every rank.

A process learns its place from the environment (aecli.runs.ranks: torchrun's variables, or
SLURM's) and meets the others at MASTER_ADDR:MASTER_PORT. `aecli train trainer.devices=N`
starts N processes itself and sets these variables for them (aecli.commands.spawn).

The global batch (trainer.batch_size) is cut into one contiguous slice per rank; each rank's loss
is scaled by its share of the batch, so DDP's average of the ranks' gradients is the gradient of
the whole batch's mean loss, whatever the slices' sizes. Every rank draws the epoch's batch order
from the same generator state; noise (corruption, dropout) comes from each rank's own stream,
seeded by (seed, rank, epoch, step), so a resumed run draws what an uninterrupted one does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import torch
from torch import Tensor, nn

from aecli.errors import UserError
from aecli.runs.ranks import SINGLE, World, forget_store, shared_store, world_from_env

TIMEOUT_SECONDS = 300  # a collective that waits longer (a rank died or hangs) fails instead of hanging


_current = SINGLE


def current() -> World:
    """The world this process joined (`join`), or the single process."""
    return _current


def join(world: World, device: torch.device, timeout_seconds: float = TIMEOUT_SECONDS) -> None:
    """Join the process group of `world` (NCCL for CUDA devices, gloo otherwise), once per process."""
    global _current
    if not world.distributed:
        return
    if not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend, store=shared_store(world), rank=world.rank, world_size=world.size,
                                             timeout=timedelta(seconds=timeout_seconds))
    _current = world


def leave() -> None:
    """Leave the process group (and let go of the shared store), once this rank is done with it."""
    global _current
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
        forget_store()
    _current = SINGLE


def local_device(requested: torch.device, world: World) -> torch.device:
    """Each rank's own GPU (cuda:local_rank) when the run asked for CUDA; the CPU stays the CPU."""
    if requested.type == "cuda" and world.distributed:
        if world.local_rank >= torch.cuda.device_count():
            raise UserError(f"rank {world.rank} wants GPU {world.local_rank}, but this node has "
                            f"{torch.cuda.device_count()}; start at most one process per GPU")
        torch.cuda.set_device(world.local_rank)
        return torch.device("cuda", world.local_rank)
    return requested


def sum_over_ranks(values: Tensor) -> Tensor:
    """`values` summed over every rank (in place; the tensor itself in a single process)."""
    if _current.distributed:
        torch.distributed.all_reduce(values)
    return values


def barrier() -> None:
    """Wait until every rank gets here (nothing in a single process)."""
    if _current.distributed:
        torch.distributed.barrier()


def any_rank(flag: bool) -> bool:
    """Whether `flag` holds on some rank (every rank asks, and gets the same answer)."""
    if not _current.distributed:
        return flag
    device = torch.device("cuda", torch.cuda.current_device()) if torch.distributed.get_backend() == "nccl" else None
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
    return bool(value.item())


def wrap(model: nn.Module, device: torch.device, sync_batch_norm: bool = False) -> nn.Module:
    """What the training step calls the model through: DistributedDataParallel in a distributed
    run (its batch norms synchronized when asked), else the model itself."""
    if not _current.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    if sync_batch_norm:
        check_sync_batch_norm(True, device, _current)
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def check_sync_batch_norm(sync_batch_norm: bool, device: torch.device, world: World) -> None:
    """torch's SyncBatchNorm runs on CUDA only: refuse it elsewhere in a distributed run, before any work."""
    if sync_batch_norm and world.distributed and device.type != "cuda":
        raise UserError("model.sync_batch_norm=true needs GPUs (torch's SyncBatchNorm runs on CUDA only); on the "
                        "CPU each rank normalizes its own slice of the batch: set model.sync_batch_norm=false")


@contextmanager
def own_noise(world: World, seed: int, epoch: int) -> Iterator[callable]:
    """In a distributed run, the training steps draw their noise from this rank's own stream
    (`step(n)` seeds it for step n) and the shared generators (the batch order's) are put back
    afterwards; a single process draws from its one stream as it always has."""
    if not world.distributed:
        yield lambda step: None
        return
    from aecli.engine.rng import capture_rng, restore_rng

    shared = capture_rng()
    try:
        yield lambda step: torch.manual_seed(world.noise_seed(seed, epoch, step))
    finally:
        restore_rng(shared)


__all__ = ["World", "SINGLE", "current", "world_from_env", "join", "leave", "local_device",
           "sum_over_ranks", "barrier", "any_rank", "wrap", "own_noise"]
