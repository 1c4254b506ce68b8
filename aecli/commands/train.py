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
    from aecli.runs.store import merge_metrics

    started = time.perf_counter()
    session = steps.prepare(cfg, launch)
    steps.build(session)
    # On resume, TensorBoard hides what the stopped session logged after last.pt's epoch.
    purge_step = None if session.resume is None else session.resume["epoch"] + 1
    with SummaryWriter(str(session.run_dir / "tensorboard"), purge_step=purge_step) as writer:
        try:
            result = steps.fit_run(session, writer)
        except (TrainingDiverged, TrainingStopped) as failure:
            merge_metrics(session.run_dir, failure.metrics)
            raise
        metrics = steps.close_run(session, result, writer)
    return steps.finish(session, metrics, started, result.best_epoch)
