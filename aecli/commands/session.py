"""The steps of `aecli train` between the command line and the result: prepare the config and
the run folder, fit (plain or stacked), then close the run with its test figures, pictures and
latent plot. Each step is one function; commands/train.py calls them in order."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from aecli.commands.app import Launch
from aecli.engine.build import Experiment
from aecli.engine.state import FitResult

log = logging.getLogger("aecli")

MIN_TSNE_POINTS = 2  # a t-SNE of one code cannot be drawn (scikit-learn needs perplexity < points)
# What a diverged run records in metrics.json; a later successful resume drops them.
FAILURE_KEYS = ("failure", "failure_epoch", "failure_step", "failure_term")


@dataclass
class Session:
    """One train run in progress."""

    cfg: DictConfig
    run_dir: Path
    resuming: bool
    save_config_to: Path | None = None  # where the run's config is saved (again once the options have chosen)
    varied: tuple[str, ...] = ()  # the keys that tell this run apart (HParams columns)
    device: torch.device | None = None
    resume: dict[str, Any] | None = None  # last.pt's payload when resuming
    experiment: Experiment | None = None

    @property
    def layerwise(self) -> bool:
        return self.cfg.trainer.pretrain == "layerwise"


def prepare(cfg: DictConfig, launch: Launch) -> Session:
    """The run's config (its own, for a resume), checked in full before any work, and saved."""
    from aecli.config.validate import composed_defaults, group_choices, refuse_added_keys, validate_train_config
    from aecli.engine.stacked import check_resume
    from aecli.runs.resume import resume_config
    from aecli.runs.store import save_config

    OmegaConf.resolve(cfg)
    resuming = cfg.get("resume") is not None
    run_dir = launch.run_dir
    if resuming:  # continue that run with its own config (see aecli.runs.resume)
        run_dir, cfg = resume_config(cfg, launch.run_dir, launch.overrides, launch.multirun)
    elif launch.save_config_to is not None:  # Hydra saves the config unresolved; keep the resolved one
        save_config(launch.save_config_to, cfg)
    is_group = lambda key: key in launch.groups  # noqa: E731
    choices = group_choices(launch.overrides, is_group)
    if not resuming:
        refuse_added_keys(launch.overrides, is_group, launch.config_name)
    validate_train_config(cfg, None if resuming else composed_defaults(launch.config_name, choices))
    if resuming:
        check_resume(cfg)
    if cfg.tsne.enabled:
        from aecli.report.latents import check_tsne_backend

        check_tsne_backend(cfg.tsne.backend)
    return Session(cfg, run_dir, resuming, None if resuming else launch.save_config_to, tuple(launch.varied))


def build(session: Session) -> None:
    """Device, threads, the resume checkpoint and the experiment's parts, checked against each other."""
    from aecli.engine.build import build_experiment
    from aecli.engine.device import choose_threads, resolve_device
    from aecli.engine.stacked import check_layerwise
    from aecli.models import count_parameters
    from aecli.runs.checkpoint import load_model_state
    from aecli.runs.resume import load_resume_checkpoint
    from aecli.runs.store import save_config

    cfg = session.cfg
    session.device = resolve_device(cfg.trainer.device)
    if session.resuming:
        session.resume = load_resume_checkpoint(session.run_dir, cfg, session.device)
    torch.manual_seed(cfg.seed)
    experiment = session.experiment = build_experiment(cfg, session.device)
    if experiment.brought and session.save_config_to is not None:  # the saved config records what auto chose
        save_config(session.save_config_to, cfg)
    if session.layerwise:
        check_layerwise(experiment.model, experiment.likelihood, experiment.regularizers, experiment.data, cfg)
    if session.resume is not None:
        load_model_state(experiment.model, session.resume["model"], session.run_dir / "checkpoints" / "last.pt")
        save_config(session.run_dir / ".hydra" / "config.yaml", cfg)  # keeps a longer trainer.epochs on record
        log.info("resuming %s after epoch %d (+%d steps)", session.run_dir, session.resume["epoch"],
                 session.resume["train_state"]["step"])
    data, model = experiment.data, experiment.model
    num_parameters = count_parameters(model)
    threads, why = choose_threads(cfg.trainer.num_threads, num_parameters, session.device)
    torch.set_num_threads(threads)
    log.info(
        "aecli train: dataset=%s (%d/%d/%d train/val/test samples of shape %s), model=%s (%s parameters, %s code), "
        "likelihood=%s, regularizer=[%s], device=%s, samples %s, threads=%d (%s)%s",
        cfg.dataset.name, len(data.train), len(data.val), len(data.test), tuple(data.sample_shape), cfg.model.name,
        f"{num_parameters:,}", model.bottleneck.label, cfg.likelihood.name,
        ",".join(r.name for r in experiment.regularizers), session.device, data.placement, threads, why,
        "".join(f"; {line}" for line in experiment.brought),
    )
    log.info("run directory: %s", session.run_dir)


def fit_run(session: Session, writer: Any) -> FitResult:
    """Train (greedy layer-wise then fine-tuning, or end to end), with reconstruction pictures
    of the validation split as `log.reconstructions_every` says and at the last epoch."""
    from aecli.engine.guards import GracefulStop
    from aecli.engine.loop import fit
    from aecli.engine.stacked import fit_layerwise
    from aecli.report.tensorboard import log_reconstructions

    cfg, (data, likelihood, regularizers, model) = session.cfg, _parts(session)
    shown = min(cfg.log.num_reconstructions, len(data.val), len(data.test))
    # The epoch count of the `fit` that calls on_epoch_end: a stacked run's is its fine-tuning.
    final_epoch = cfg.trainer.finetune_epochs if session.layerwise else cfg.trainer.epochs

    def on_epoch_end(epoch: int) -> None:
        every = cfg.log.reconstructions_every
        if shown and ((every > 0 and epoch % every == 0) or epoch == final_epoch):
            log_reconstructions(writer, model, likelihood, data, data.val.batch(slice(shown)), "reconstructions/val", epoch)

    with GracefulStop() as stop:  # only while training: later, Ctrl-C interrupts at once
        if session.layerwise:  # greedy layer-wise pretraining, then fine-tuning (aecli.engine.stacked)
            return fit_layerwise(session.experiment, cfg, session.run_dir, writer, on_epoch_end, stop)
        return fit(model, likelihood, regularizers, data, cfg, session.run_dir, writer, on_epoch_end, session.resume, stop)


def close_run(session: Session, result: FitResult, writer: Any, started: float) -> dict[str, Any]:
    """The best checkpoint's figures on val and test and its pictures, written to metrics.json
    before the latent plot (a plot that fails leaves a complete run); returns the entries."""
    from aecli.runs.store import merge_metrics

    from aecli.engine.steps import evaluate_split
    from aecli.models import count_parameters
    from aecli.report.tensorboard import PictureFiles, log_filters, log_generative_pictures, log_reconstructions
    from aecli.runs.checkpoint import load_checkpoint, load_model_state

    cfg, (data, likelihood, regularizers, model) = session.cfg, _parts(session)
    best_path = session.run_dir / "checkpoints" / "best.pt"
    load_model_state(model, load_checkpoint(best_path, map_location=session.device)["model"], best_path)
    val = evaluate_split(model, likelihood, regularizers, data.val, cfg.trainer.eval_batch_size, cfg.seed)  # best.pt's objective
    test = evaluate_split(model, likelihood, regularizers, data.test, cfg.trainer.eval_batch_size)
    shown = min(cfg.log.num_reconstructions, len(data.val), len(data.test))
    files = PictureFiles(session.run_dir, session.run_dir.name)
    if shown:
        log_reconstructions(writer, model, likelihood, data, data.test.batch(slice(shown)), "reconstructions/test", result.best_epoch, files)
    log_generative_pictures(writer, model, likelihood, data, cfg.log, result.best_epoch, files)
    log_filters(writer, model, data, result.best_epoch)
    metrics: dict[str, Any] = {
        "train_loss": result.train["total"], "val_loss": val["total"], "test_loss": test["total"],
        **{f"train_{k}": v for k, v in result.train.items() if k != "total"},
        **{f"val_{k}": v for k, v in val.items() if k != "total"},
        **{f"test_{k}": v for k, v in test.items() if k != "total"},
        "best_epoch": result.best_epoch, "epochs": result.epochs_completed, "num_parameters": count_parameters(model),
        "train_seconds": result.seconds, "device": str(session.device), "torch_threads": torch.get_num_threads(),
        "status": "completed", "stop_reason": result.stop_reason or f"trained all {cfg.trainer.epochs} epochs",
    }
    metrics["total_seconds"] = time.perf_counter() - started
    merge_metrics(session.run_dir, metrics, drop=FAILURE_KEYS)
    if cfg.tsne.enabled:
        metrics.update(_latent_plot(session, writer, result.best_epoch))
    return metrics


def _latent_plot(session: Session, writer: Any, step: int) -> dict[str, float]:
    """t-SNE of the test codes (tsne.png), or, for a 2-D code, the code itself (latent.png):
    a t-SNE of 2-D points adds nothing."""
    from aecli.report.latents import draw_latents

    cfg, (data, _, _, model) = session.cfg, _parts(session)
    method, png = ("scatter", "latent.png") if model.latent_dim == 2 else ("tsne", "tsne.png")
    if method == "tsne" and len(data.test) < MIN_TSNE_POINTS:  # t-SNE needs a neighbourhood to place each point in
        log.info("t-SNE skipped: the test split holds %d codes, fewer than %d", len(data.test), MIN_TSNE_POINTS)
        return {}
    drawn = draw_latents(
        model, data, method, cfg.tsne.num_points, float(cfg.tsne.perplexity), cfg.seed, session.run_dir / png,
        writer, step, cfg.trainer.eval_batch_size, projector=cfg.tsne.embedding_projector, backend=cfg.tsne.backend,
        max_iter=cfg.tsne.max_iter,
    )
    log.info("%s: %.1fs", drawn.title, drawn.seconds)
    return {"tsne_seconds": drawn.seconds} if method == "tsne" else {}


def finish(session: Session, metrics: dict[str, Any], started: float, best_epoch: int) -> float:
    """metrics.json, the closing line, `aecli evaluate` when asked, the HParams record; returns
    the run's objective (what a sweeper optimizes)."""
    from aecli.report.hparams import log_hparams
    from aecli.runs.store import merge_metrics, read_metrics
    from aecli.runs.sweeps import objective_value

    cfg, run_dir = session.cfg, session.run_dir
    metrics["total_seconds"] = time.perf_counter() - started
    merge_metrics(run_dir, metrics, drop=FAILURE_KEYS)
    log.info(
        "done in %.1fs: best epoch %d, val %.4f, test %.4f (test_recon_sse %.4f); outputs in %s",
        metrics["total_seconds"], best_epoch, metrics["val_loss"], metrics["test_loss"], metrics["test_recon_sse"], run_dir,
    )
    if cfg.evaluate_after:
        from aecli.commands.evaluate import evaluate_finished_run

        evaluate_finished_run(run_dir)
    final = read_metrics(run_dir)
    log_hparams(run_dir / "tensorboard", cfg, final, best_epoch, list(session.varied))
    return objective_value(cfg.objective, final)


def _parts(session: Session) -> tuple:
    experiment = session.experiment
    return experiment.data, experiment.likelihood, experiment.regularizers, experiment.model
