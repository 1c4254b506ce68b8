"""aecli train: compose and check the config -> seed and build the experiment -> fit -> test ->
report -> [evaluate] -> return the objective (default: the validation loss), in that order."""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from aecli.commands.launch import Launch
from aecli.commands.user_errors import report_user_errors
from aecli.config.compose import composed_defaults, group_choices, refuse_added_keys
from aecli.engine.schedule import still_improving
from aecli.runs.lock import hold_run_lock
from aecli.runs.names import register_resolvers
from aecli.runs.provenance import KEPT, hashes, made_by
from aecli.runs.resume import after_write_failure, load_resume_checkpoint, resume_config
from aecli.runs.store import FAILURE_KEYS, events_folder, merge_metrics, read_metrics, save_config
from aecli.runs.write_failures import run_folder_write_failures

register_resolvers()  # configs/train.yaml names run folders with them (before Hydra composes)
log = logging.getLogger("aecli")


@hydra.main(version_base="1.3", config_path="pkg://aecli.configs", config_name="train")
@report_user_errors("train")
def main(cfg: DictConfig) -> float:
    return train(cfg, Launch.from_hydra())


def train(cfg: DictConfig, launch: Launch) -> float:
    """Run one training job in `launch.run_dir` (a resume: in the run's own folder, with its own
    config); returns the run's `objective.metric` from metrics.json. Callable in-process with a
    composed config (tests, scripts): `launch` holds what Hydra would. With trainer.devices=N the
    job runs on N processes started here (aecli.commands.spawn); started by torchrun or SLURM,
    this process is one rank of the run (aecli.engine.distributed)."""
    from aecli.engine.distributed import SINGLE, world_from_env

    started = time.perf_counter()
    resuming = cfg.get("resume") is not None
    cfg, run_dir = checked_config(cfg, launch)
    world = world_from_env()
    devices = int(cfg.trainer.devices)
    if world is None and devices > 1:
        from aecli.commands.spawn import spawn_ranks

        spawn_ranks(cfg, launch, run_dir, devices, resuming)
        final = read_metrics(run_dir)
        from aecli.runs.sweeps import objective_value

        return objective_value(cfg.objective, final)
    if world is not None and devices not in (1, world.size):
        log.warning("trainer.devices=%d is left aside: the launcher started %d processes", devices, world.size)
    return train_rank(cfg, launch, run_dir, resuming, world or SINGLE, started=started)


def train_rank(
    cfg: DictConfig, launch: Launch, run_dir: Path, resuming: bool, world: Any, started: float | None = None,
    parent_holds_lock: bool = False,
) -> float:
    """The train path on one rank of `world` (the single process: rank 0 of 1). Rank 0 owns the run
    folder (lock, checkpoints, TensorBoard, metrics.json, pictures); the others train their slices
    and write nothing."""
    from torch.utils.tensorboard import SummaryWriter

    from aecli.engine.distributed import leave
    from aecli.engine.loop import test
    from aecli.errors import TrainingDiverged, TrainingStopped
    from aecli.report.final import final_pictures
    from aecli.report.tensorboard import NullWriter, quiet_writer_thread_failures

    started = time.perf_counter() if started is None else started
    if not world.main:  # the other ranks write nothing but their own failure (to train.log, if they have one)
        logging.getLogger().setLevel(logging.ERROR)
    composed = None if resuming else hashes(cfg)  # what the run is composed of, before the options choose
    # One writer per run folder (re-entrant: the Hydra app's guard already holds it), and a full
    # disk anywhere in the folder is one line (checkpoints say how much space they need).
    owner = world.main and not parent_holds_lock
    try:
        with (hold_run_lock(run_dir, "train") if owner else nullcontext()), \
                (run_folder_write_failures(run_dir, lambda: after_write_failure(run_dir)) if world.main else nullcontext()):
            experiment, state, purge_step = build(cfg, run_dir, launch, resuming, world)
            made = made_by(experiment.cfg, composed, state.made_by)
            state.made_by = {key: made[key] for key in KEPT}  # kept in last.pt
            writer = SummaryWriter(str(events_folder(run_dir)), purge_step=purge_step) if world.main else NullWriter()
            with quiet_writer_thread_failures(), writer:
                try:
                    state = fit_run(experiment, run_dir, writer, state)
                except (TrainingDiverged, TrainingStopped) as failure:
                    if world.main:
                        merge_metrics(run_dir, failure.metrics | made)
                    raise
                metrics = test(experiment, run_dir / "checkpoints" / "best.pt", state) | made
                if not world.main:
                    return float("nan")
                leave()  # what is left (pictures, evaluate) is rank 0's alone
                merge_metrics(run_dir, metrics | {"total_seconds": time.perf_counter() - started}, drop=FAILURE_KEYS)
                metrics |= final_pictures(experiment, writer, run_dir, state.best_epoch)
            metrics["total_seconds"] = time.perf_counter() - started
            merge_metrics(run_dir, metrics, drop=FAILURE_KEYS)
            log.info(done_line(experiment, metrics, state, run_dir))
            if state.stop_reason is None and (warning := still_improving(state.val_sse, int(experiment.cfg.trainer.epochs))):
                log.warning(warning)
            return objective(experiment, run_dir, state.best_epoch, launch.varied)
    except Exception:
        if not world.main:
            log.exception("rank %d of %d failed", world.rank, world.size)
        raise
    finally:
        leave()


def done_line(experiment: Any, metrics: dict[str, Any], state: Any, run_dir: Path) -> str:
    """The run's last line: best.pt's epoch and its figures, each saying what it was computed on."""
    corrupted = any(r.corrupts_input for r in experiment.regularizers)
    val_on, test_on = (" (input corrupted as in training)", " (clean input)") if corrupted else ("", "")
    return (f"done in {metrics['total_seconds']:.1f}s: best epoch {state.best_epoch} of {state.epochs_completed} (best.pt): "
            f"val {metrics['val_loss']:.4f}{val_on}, test {metrics['test_loss']:.4f}{test_on}, "
            f"test_recon_sse {metrics['test_recon_sse']:.4f}; outputs in {run_dir}")


def checked_config(cfg: DictConfig, launch: Launch) -> tuple[DictConfig, Path]:
    """The run's config, resolved and checked in full before any work, and its folder: for a
    resume, the run's own config with the few overrides allowed (aecli.runs.resume)."""
    from aecli.engine.stacked import check_resume
    from aecli.report.latents import check_tsne_backend
    from aecli.runs.config import check_train_config

    OmegaConf.resolve(cfg)
    if cfg.get("resume") is not None:
        run_dir, cfg = resume_config(cfg, launch.run_dir, launch.overrides, launch.multirun)
        check_train_config(cfg)
        check_resume(cfg)
    else:
        run_dir = launch.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)  # called in-process: the folder the guard would have made
        refuse_added_keys(launch.overrides, launch.is_group, launch.config_name)
        check_train_config(cfg, composed_defaults(launch.config_name, group_choices(launch.overrides, launch.is_group)))
    if cfg.tsne.enabled:
        check_tsne_backend(cfg.tsne.backend)
    return cfg, run_dir


def build(cfg: DictConfig, run_dir: Path, launch: Launch, resuming: bool, world: Any) -> tuple[Any, Any, int | None]:
    """Join the ranks of a distributed run, seed, build the experiment (a resumed run: with
    last.pt's weights, optimizer and position), save the config it settled on, choose the threads
    and say it all in the start line; returns the experiment, where training stands (None: at the
    start) and the TensorBoard step to purge from."""
    import torch

    from aecli.engine.device import busy_advice, choose_threads, resolve_device
    from aecli.engine.distributed import check_sync_batch_norm, join, local_device
    from aecli.engine.experiment import build_experiment
    from aecli.engine.stacked import check_layerwise
    from aecli.engine.state import TrainState

    device = local_device(resolve_device(cfg.trainer.device), world)
    check_sync_batch_norm(bool(cfg.model.get("sync_batch_norm", False)), device, world)
    join(world, device)
    resume = load_resume_checkpoint(run_dir, cfg, device) if resuming else None
    torch.manual_seed(cfg.seed)
    experiment = build_experiment(cfg, device, world)
    if cfg.trainer.pretrain == "layerwise":
        check_layerwise(experiment)
    if resume is not None:
        experiment.restore(resume, run_dir / "checkpoints" / "last.pt", optimizer=True)
    if resuming and world.main:  # a longer trainer.epochs on record, once last.pt is known to fit
        save_config(run_dir / ".hydra" / "config.yaml", cfg)
        log.info("resuming %s after epoch %d (+%d steps)", run_dir, resume["epoch"], resume["train_state"]["step"])
    elif launch.save_config_to is not None and world.main:  # resolved, with what the options chose
        save_config(launch.save_config_to, cfg)
    parameters = sum(p.numel() for p in experiment.model.parameters())
    threads, why = choose_threads(cfg.trainer.num_threads, parameters, int(cfg.trainer.batch_size) // world.size, device,
                                  world.local_size)
    torch.set_num_threads(threads)
    log.info("aecli train: %s, threads=%d (%s)%s", experiment.describe(), threads, why,
             "".join(f"; {line}" for line in [*experiment.brought, *filter(None, [busy_advice(threads)])]))
    log.info("run directory: %s", run_dir)
    if resume is None:
        return experiment, TrainState(), None
    return experiment, TrainState.resume(resume["train_state"]), resume["epoch"] + 1  # TensorBoard hides what came after


def fit_run(experiment: Any, run_dir: Path, writer: Any, state: Any) -> Any:
    """Train (greedy layer-wise then fine-tuning, or end to end), with reconstruction pictures of
    the validation split as `log.reconstructions_every` says and at the last epoch."""
    from aecli.engine.guards import GracefulStop
    from aecli.engine.loop import fit
    from aecli.engine.stacked import fit_layerwise
    from aecli.report.reconstructions import log_reconstructions

    exp, cfg = experiment, experiment.cfg
    shown = min(cfg.log.num_reconstructions, len(exp.data.val), len(exp.data.test))
    layerwise = cfg.trainer.pretrain == "layerwise"
    final_epoch = cfg.trainer.finetune_epochs if layerwise else cfg.trainer.epochs  # that of the fit calling back

    def on_epoch_end(epoch: int) -> None:
        every = cfg.log.reconstructions_every
        if shown and ((every > 0 and epoch % every == 0) or epoch == final_epoch):
            log_reconstructions(writer, exp.model, exp.likelihood, exp.data, exp.data.val, shown, "reconstructions/val", epoch)

    with GracefulStop() as stop:  # only while training: later, Ctrl-C interrupts at once
        if layerwise:
            return fit_layerwise(exp, run_dir, writer, stop, on_epoch_end)
        return fit(exp, run_dir, writer, stop, state, on_epoch_end)


def objective(experiment: Any, run_dir: Path, best_epoch: int, varied: list[str]) -> float:
    """`aecli evaluate` when asked, the HParams record, and the run's objective from metrics.json
    (what a sweeper optimizes)."""
    from aecli.report.hparams import log_hparams
    from aecli.runs.sweeps import objective_value

    cfg = experiment.cfg
    if cfg.evaluate_after:
        from aecli.commands.evaluate import evaluate_finished_run

        evaluate_finished_run(run_dir, cfg.get("evaluate_with"))
    final = read_metrics(run_dir)
    log_hparams(events_folder(run_dir), cfg, final, best_epoch, list(varied))
    return objective_value(cfg.objective, final)
