"""`aecli train trainer.devices=N`: the composed, checked config is handed to N processes that
torch.multiprocessing starts (spawn), one per device; each joins the process group as a rank
(aecli.engine.distributed) and runs the same train path. This process keeps the run folder's lock
and waits for them.

- The ranks run in their own process group, so a Ctrl-C at the terminal reaches this process only;
  it passes SIGINT and SIGTERM on to every rank, which stop together after the current step (rank
  0 writes last.pt). A second signal is passed on too and ends them at once.
- Rank 0 logs to the console and to the run's train.log; the other ranks log nothing.
- A rank that fails makes the others stop: torch's process context ends them when one exits
  non-zero, and the process group's timeout ends any collective left waiting. Its error is
  written to train.log, and the command exits non-zero. A rank's user error (a bad option, a
  divergence, a graceful stop) comes back as the same one line and exit status.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import tempfile
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from aecli.errors import TrainingStopped, UserError

log = logging.getLogger("aecli")

GRACE_SECONDS = 60  # after one rank ends, how long the others have to end on their own (rank 0 may be writing last.pt)


def spawn_ranks(cfg: DictConfig, launch: Any, run_dir: Path, devices: int, resuming: bool) -> None:
    """Run the train path on `devices` ranks of this machine and wait for them; a rank's user
    error is raised here as the same error."""
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory(prefix="aecli-ranks-") as errors:
        env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "WORLD_SIZE": str(devices),
               "LOCAL_WORLD_SIZE": str(devices)}
        payload = (OmegaConf.to_container(cfg, resolve=True), launch, str(run_dir), resuming, env, _log_file(), errors)
        context = mp.start_processes(_rank_main, args=payload, nprocs=devices, join=False, start_method="spawn")
        received: list[int] = []

        def forward(signum: int, frame: Any) -> None:
            received.append(signum)
            for process in context.processes:
                if process.is_alive():
                    os.kill(process.pid, signum)

        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not context.join(timeout=1.0, grace_period=GRACE_SECONDS):
                pass
        except Exception as failure:  # a rank raised, or exited non-zero: the others are ended by now
            _raise_rank_error(Path(errors), received, failure)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if received:  # every rank finished before the signal was acted on
            log.info("%s received after training had finished", signal.Signals(received[0]).name)


def _rank_main(local_rank: int, cfg: dict, launch: Any, run_dir: str, resuming: bool, env: dict[str, str],
               log_file: str | None, errors: str) -> None:
    """One rank, in its own process: the environment torchrun would give it, rank 0's logging,
    then the train path; a user error is recorded for the parent and ends the process with its status."""
    import sys

    os.setpgrp()  # a Ctrl-C at the terminal reaches the parent only, which passes it on once
    os.environ.update(env, RANK=str(local_rank), LOCAL_RANK=str(local_rank))
    _configure_logging(local_rank == 0, log_file)
    from aecli.commands.train import train_rank
    from aecli.engine.distributed import world_from_env

    try:
        train_rank(OmegaConf.create(cfg), launch, Path(run_dir), resuming, world_from_env(), parent_holds_lock=True)
    except UserError as error:
        Path(errors, f"rank{local_rank}.json").write_text(json.dumps(
            {"label": error.label, "exit_code": error.exit_code, "message": str(error), "type": type(error).__name__}))
        sys.exit(error.exit_code)
    except KeyboardInterrupt:  # a second signal: out at once (torch's wrapper would call that a success)
        sys.exit(128 + signal.SIGINT)
    except Exception:
        logging.getLogger("aecli").exception("rank %d failed", local_rank)
        raise


def _raise_rank_error(errors: Path, received: list[int], failure: Exception) -> None:
    """The first rank's recorded user error as this process's own, else the failure itself."""
    records = sorted(errors.glob("rank*.json"), key=lambda path: int(path.stem[4:]))
    if not records:
        log.error("a rank of the run failed: %s", failure)
        crashed = UserError(f"a rank of the distributed run failed ({str(failure).strip().splitlines()[-1]}); "
                            f"what the ranks printed is above and in train.log")
        crashed.exit_code = 1  # not the user's to fix: a crash
        raise crashed from None
    record = json.loads(records[0].read_text())
    if record["type"] == "TrainingStopped":
        raise TrainingStopped(record["message"], record["exit_code"] - 128, {})
    error = UserError(record["message"])
    error.exit_code, error.label = record["exit_code"], record["label"]
    raise error


def _configure_logging(main: bool, log_file: str | None) -> None:
    """Rank 0 logs as `aecli train` does (plain lines on stdout, timestamped ones appended to
    train.log); the other ranks only their own failure, to train.log."""
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.INFO if main else logging.ERROR)
    if main:
        console = logging.StreamHandler()
        console.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(console)
    if log_file is not None:
        file = logging.FileHandler(log_file, delay=True)
        file.setFormatter(logging.Formatter("[%(asctime)s][%(levelname)s] %(message)s"))
        root.addHandler(file)


def _log_file() -> str | None:
    """The file this process logs to (Hydra's train.log), for rank 0 to append to."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            return handler.baseFilename
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


__all__ = ["spawn_ranks"]
