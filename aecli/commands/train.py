"""aecli train: seed -> build -> fit -> test -> latent plot -> [evaluate] -> return the objective
(default: the validation loss). The steps live in aecli.commands.session."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from aecli.commands.app import Launch, report_user_errors
from aecli.runs.names import register_resolvers

register_resolvers()  # configs/train.yaml names run folders with them (before Hydra composes)


@hydra.main(version_base="1.3", config_path="pkg://aecli.configs", config_name="train")
@report_user_errors("train")
def main(cfg: DictConfig) -> float:
    return train(cfg, Launch.from_hydra())


def train(cfg: DictConfig, launch: Launch) -> float:
    """Run one training job in `launch.run_dir` (then `aecli evaluate` of it when
    `evaluate_after` is set); returns the run's `objective.metric` from metrics.json, by default
    `val_loss`, the best checkpoint's validation loss (the number a sweeper optimizes).
    Callable in-process with a composed config (tests, scripts): `launch` holds what Hydra would."""
    import time

    from torch.utils.tensorboard import SummaryWriter

    from aecli.commands import session as steps
    from aecli.errors import TrainingDiverged, TrainingStopped
    from aecli.report.tensorboard import quiet_writer_thread_failures
    from aecli.runs.lock import hold_run_lock
    from aecli.runs.store import merge_metrics
    from aecli.runs.write_failures import run_folder_write_failures

    started = time.perf_counter()
    if cfg.get("resume") is None:  # called in-process: the folder the guard would have made
        launch.run_dir.mkdir(parents=True, exist_ok=True)
    # One writer per run folder (re-entrant: the Hydra app's guard already holds it), and a full
    # disk anywhere in the folder is one line (checkpoints say how much space they need).
    with hold_run_lock(launch.run_dir, "train"), run_folder_write_failures(launch.run_dir, lambda: _disk_fix(launch)):
        session = steps.prepare(cfg, launch)
        steps.build(session)
        # On resume, TensorBoard hides what the stopped session logged after last.pt's epoch.
        purge_step = None if session.resume is None else session.resume["epoch"] + 1
        with quiet_writer_thread_failures(), SummaryWriter(str(session.run_dir / "tensorboard"), purge_step=purge_step) as writer:
            try:
                result = steps.fit_run(session, writer)
            except (TrainingDiverged, TrainingStopped) as failure:
                merge_metrics(session.run_dir, failure.metrics)
                raise
            metrics = steps.close_run(session, result, writer, started)
        return steps.finish(session, metrics, started, result.best_epoch)


def _disk_fix(launch: Launch) -> str:
    """What to do after a failed write: continue the run, or (when it completed) redraw what is missing."""
    from aecli.errors import UserError
    from aecli.runs.store import read_metrics

    try:
        completed = read_metrics(launch.run_dir).get("status") == "completed"
    except UserError:
        completed = False
    if completed:
        return f"the run itself completed (metrics.json); free space, then redraw its plots with aecli visualize-latents run={launch.run_dir}"
    return f"free space, then continue with aecli train resume={launch.run_dir}"
