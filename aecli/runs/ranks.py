"""Which process of a run this is, from the environment, before anything else is built: torchrun's
RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE, or, inside a SLURM job step (srun, or Hydra's
submitit launcher with tasks_per_node), SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_LOCALID and
SLURM_NTASKS_PER_NODE. The processes meet at MASTER_ADDR:MASTER_PORT; under SLURM without them, at
the job's first node and a port derived from the job id. Their shared key-value store also gives
every rank rank 0's start time, so all name the same run folder (`run_started`, the
`aecli.started` resolver of configs/train.yaml)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aecli.errors import UserError

if TYPE_CHECKING:
    from torch import Tensor

STORE_TIMEOUT = timedelta(seconds=300)


@dataclass(frozen=True)
class World:
    """This process's place in the run: rank `rank` of `size`, `local_rank` of `local_size` on its node."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def main(self) -> bool:
        """The rank that owns the run folder: the lock, checkpoints, TensorBoard, metrics.json, PNGs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, index: Tensor) -> Tensor:
        """This rank's contiguous slice of a batch's indices (sizes differ by at most one)."""
        return index.tensor_split(self.size)[self.rank] if self.distributed else index

    def rows(self, count: int) -> slice:
        """This rank's contiguous rows of a split of `count` samples."""
        if not self.distributed:
            return slice(0, count)
        import torch

        bounds = torch.arange(count).tensor_split(self.size)[self.rank]
        return slice(int(bounds[0]), int(bounds[-1]) + 1) if len(bounds) else slice(0, 0)

    def noise_seed(self, seed: int, epoch: int, step: int) -> int:
        """The seed of this rank's noise stream for one training step."""
        return (int(seed) * 1_000_003 + self.rank * 7_919 + epoch * 104_729 + step) % (2**63 - 1)


SINGLE = World()


def world_from_env(environ: Mapping[str, str] | None = None) -> World | None:
    """The world the environment describes (torchrun's variables, else SLURM's), or None when it
    names no more than one process."""
    env = os.environ if environ is None else environ
    for rank, size, local, local_size in (("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"),
                                          ("SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE")):
        if size in env and rank in env:
            world = World(int(env[rank]), int(env[size]), int(env.get(local, 0)), _first_int(env.get(local_size, "1")))
            return world if world.distributed else None
    return None


def rendezvous(environ: Mapping[str, str] | None = None) -> tuple[str, int]:
    """MASTER_ADDR and MASTER_PORT, or under SLURM the allocation's first node and a port from the
    job id (the same in every task of the job)."""
    env = os.environ if environ is None else environ
    address = env.get("MASTER_ADDR") or env.get("SLURM_LAUNCH_NODE_IPADDR")
    if not address and env.get("SLURM_JOB_NODELIST"):
        address = first_node(env["SLURM_JOB_NODELIST"])
    if "MASTER_PORT" in env:
        port = int(env["MASTER_PORT"])
    elif "SLURM_JOB_ID" in env:
        port = 20_000 + int(env["SLURM_JOB_ID"]) % 20_000
    else:
        port = 0
    if not address or not port:
        raise UserError("a distributed run needs MASTER_ADDR and MASTER_PORT (torchrun sets them; under SLURM they "
                        "come from the job); set both, or start it with aecli train trainer.devices=N")
    return address, port


def first_node(nodelist: str) -> str:
    """The first host of a SLURM node list: `gpu[03-05,07],cpu1` -> gpu03."""
    head = re.split(r",(?![^\[]*\])", nodelist.strip())[0]
    match = re.match(r"^([^\[]+)\[([^\]]+)\]", head)
    if match is None:
        return head
    first = re.split(r"[,-]", match.group(2))[0]
    return match.group(1) + first




def _first_int(text: str) -> int:
    """SLURM_NTASKS_PER_NODE may read `2(x3)`: its first number."""
    match = re.match(r"\d+", text)
    return int(match.group()) if match else 1



_store: Any = None
_started: datetime | None = None


def shared_store(world: World) -> Any:
    """The key-value store the ranks of `world` share (torch.distributed's TCPStore at
    MASTER_ADDR:MASTER_PORT: torchrun's agent hosts it, else rank 0), made once per process."""
    global _store
    if _store is None:
        from torch.distributed import TCPStore

        address, port = rendezvous()
        agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() == "true"
        _store = TCPStore(address, port, world.size, is_master=world.main and not agent, timeout=STORE_TIMEOUT,
                          wait_for_workers=False)
    return _store


def forget_store() -> None:
    """Drop this process's handle on the shared store (after the process group is gone)."""
    global _store
    _store = None


def run_started(pattern: str) -> str:
    """This run's start time in `pattern` (strftime): the moment this process first asked, or in a
    distributed run rank 0's, so every rank names the same run folder."""
    global _started
    if _started is None:
        world = world_from_env()
        if world is None:
            _started = datetime.now()
        else:
            store = shared_store(world)
            if world.main:
                store.set("aecli/started", datetime.now().isoformat())
            _started = datetime.fromisoformat(store.get("aecli/started").decode())
    return _started.strftime(pattern)


__all__ = ["World", "SINGLE", "world_from_env", "rendezvous", "first_node", "shared_store", "run_started"]
