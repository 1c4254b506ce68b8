"""aecli train: seed -> build -> fit -> test -> latent plot -> [evaluate] -> return the objective (default: validation loss)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from aecli.errors import TrainingDiverged, TrainingStopped, report_user_errors

log = logging.getLogger("aecli")

# What a diverged run records in metrics.json; a later successful resume drops them.
FAILURE_KEYS = ("failure", "failure_epoch", "failure_step", "failure_term")
DEFAULT_OBJECTIVE = {"metric": "val_loss", "direction": "minimize"}


@hydra.main(version_base="1.3", config_path="pkg://aecli.configs", config_name="train")
@report_user_errors("train")
def main(cfg: DictConfig) -> float:
    return train(cfg)


def train(cfg: DictConfig) -> float:
    """Run one training job in Hydra's run directory (then `aecli evaluate` of it when
    `evaluate_after` is set); returns the run's `objective.metric` from metrics.json, by
    default `val_loss`, the best checkpoint's validation loss (the number a sweeper optimizes)."""
    import time

    import torch
    from hydra.core.hydra_config import HydraConfig
    from torch.utils.tensorboard import SummaryWriter

    from aecli import reporting
    from aecli.checkpoint import load_checkpoint, load_model_state
    from aecli.hparams import log_hparams
    from aecli.runs import merge_metrics, read_metrics
    from aecli.sweeps import check_objective, objective_value
    from aecli.build import build_experiment
    from aecli.overrides import check_override_types
    from aecli.resume import load_resume_checkpoint, resume_config
    from aecli.device import resolve_device
    from aecli.guards import GracefulStop
    from aecli.models import count_parameters
    from aecli.latents import draw_latents
    from aecli.stacked import check_layerwise, check_resume, fit_layerwise, pretrain_mode
    from aecli.training import check_trainer_config, evaluate_split, fit, reconstruct

    started = time.perf_counter()
    OmegaConf.resolve(cfg)
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    resuming = cfg.get("resume") is not None
    if resuming:  # continue that run with its own config (see aecli.resume)
        run_dir, cfg = resume_config(cfg, hydra_cfg)
    else:
        if hydra_cfg.output_subdir is not None:  # Hydra saves the config unresolved; keep the resolved one
            save_config(run_dir / hydra_cfg.output_subdir / "config.yaml", cfg)
        check_override_types(cfg, hydra_cfg)

    check_trainer_config(cfg.trainer)
    layerwise = pretrain_mode(cfg) == "layerwise"
    if resuming:
        check_resume(cfg)
    reporting.check_picture_settings(cfg.log)
    check_report_settings(cfg)
    objective = cfg.get("objective") or OmegaConf.create(DEFAULT_OBJECTIVE)  # runs saved before the key had none
    check_objective(objective)
    device = resolve_device(cfg.trainer.device)
    set_num_threads(cfg.trainer.get("num_threads"))
    resume = load_resume_checkpoint(run_dir, cfg, device) if resuming else None
    torch.manual_seed(cfg.seed)
    experiment = build_experiment(cfg, device)
    data, likelihood, regularizers, model = (
        experiment.data, experiment.likelihood, experiment.regularizers, experiment.model
    )
    if layerwise:
        check_layerwise(model, likelihood, regularizers, data, cfg)
    if resume is not None:
        load_model_state(model, resume["model"], run_dir / "checkpoints" / "last.pt")
        save_config(run_dir / ".hydra" / "config.yaml", cfg)  # keeps a longer trainer.epochs on record
        log.info("resuming %s after epoch %d (+%d steps)", run_dir, resume["epoch"], resume["train_state"]["step"])
    log.info(
        "aecli train: dataset=%s (%d/%d/%d train/val/test samples of shape %s), model=%s (%s parameters), "
        "likelihood=%s, regularizer=[%s], device=%s",
        cfg.dataset.name, len(data.train), len(data.val), len(data.test), tuple(data.sample_shape),
        cfg.model.name, f"{count_parameters(model):,}", cfg.likelihood.name, ",".join(r.name for r in regularizers), device,
    )
    log.info("run directory: %s", run_dir)

    num_shown = min(int(cfg.log.num_reconstructions), len(data.val), len(data.test))

    def log_reconstructions(split_name: str, x: torch.Tensor, step: int) -> None:
        recon = reconstruct(model, likelihood, x)
        tag = f"reconstructions/{split_name}"
        if data.kind == "image":
            writer.add_image(tag, reporting.image_grid([x, recon]), step)
        else:
            figure = reporting.signal_figure(data.axis, data.denormalize(x), data.denormalize(recon), data.axis_name)
            writer.add_figure(tag, figure, step)

    # The epoch count of the `fit` that calls on_epoch_end: a stacked run's is its fine-tuning.
    final_epoch = int(cfg.trainer.finetune_epochs) if layerwise else int(cfg.trainer.epochs)

    def on_epoch_end(epoch: int) -> None:
        every = int(cfg.log.reconstructions_every)
        if num_shown and ((every > 0 and epoch % every == 0) or epoch == final_epoch):
            log_reconstructions("val", data.val.x[:num_shown], epoch)

    # On resume, TensorBoard hides what the stopped session logged after last.pt's epoch.
    purge_step = None if resume is None else resume["epoch"] + 1
    with SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge_step) as writer:
        try:
            with GracefulStop() as stop:  # only while training: later, Ctrl-C interrupts at once
                if layerwise:  # greedy layer-wise pretraining, then fine-tuning (aecli.stacked)
                    result = fit_layerwise(model, likelihood, regularizers, data, cfg, run_dir, writer, on_epoch_end, stop)
                else:
                    result = fit(model, likelihood, regularizers, data, cfg, run_dir, writer, on_epoch_end, resume, stop)
        except (TrainingDiverged, TrainingStopped) as failure:
            merge_metrics(run_dir, failure.metrics)
            raise

        best_path = run_dir / "checkpoints" / "best.pt"
        load_model_state(model, load_checkpoint(best_path, map_location=device)["model"], best_path)
        val = evaluate_split(model, likelihood, regularizers, data.val, cfg.trainer.eval_batch_size)
        test = evaluate_split(model, likelihood, regularizers, data.test, cfg.trainer.eval_batch_size)
        for key, value in test.items():
            writer.add_scalar(f"test/{key}", value, result.best_epoch)
        if num_shown:
            log_reconstructions("test", data.test.x[:num_shown], result.best_epoch)
        if model.variational:
            reporting.log_vae_pictures(writer, model, likelihood, data, cfg.log, result.best_epoch)
        model.log_pictures(writer, data, result.best_epoch)

        metrics: dict[str, object] = {
            "train_loss": result.train["total"],
            "val_loss": val["total"],
            "test_loss": test["total"],
            **{f"train_{k}": v for k, v in result.train.items() if k != "total"},
            **{f"val_{k}": v for k, v in val.items() if k != "total"},
            **{f"test_{k}": v for k, v in test.items() if k != "total"},
            "best_epoch": result.best_epoch,
            "epochs": result.epochs_completed,
            "num_parameters": count_parameters(model),
            "train_seconds": result.seconds,
            "device": str(device),
            "torch_threads": torch.get_num_threads(),
            "status": "completed",
        }

        if cfg.tsne.enabled:
            tsne = draw_latents(
                model, data, "tsne", int(cfg.tsne.num_points), float(cfg.tsne.perplexity), int(cfg.seed),
                run_dir / "tsne.png", writer, result.best_epoch, cfg.trainer.eval_batch_size,
                projector=bool(cfg.tsne.embedding_projector), backend=cfg.tsne.get("backend", "sklearn"),
                max_iter=int(cfg.tsne.get("max_iter", 1000)),  # runs saved before the key: scikit-learn's default
            )
            metrics["tsne_seconds"] = tsne.seconds
            log.info("t-SNE of %d test codes: %.1fs", len(tsne.index), tsne.seconds)

    metrics["total_seconds"] = time.perf_counter() - started
    merge_metrics(run_dir, metrics, drop=FAILURE_KEYS)
    log.info(
        "done in %.1fs: best epoch %d, val %.4f, test %.4f (test_recon_sse %.4f); outputs in %s",
        metrics["total_seconds"], result.best_epoch, val["total"], test["total"], test["recon_sse"], run_dir,
    )
    if cfg.get("evaluate_after", False):
        from aecli.commands.evaluate import evaluate_finished_run

        evaluate_finished_run(run_dir)
    final = read_metrics(run_dir)
    log_hparams(run_dir / "tensorboard", cfg, final, result.best_epoch)
    return objective_value(objective, final)


def set_num_threads(num_threads: int | None) -> None:
    """Limit torch's CPU threads when trainer.num_threads says so (null: torch's default)."""
    if num_threads is None:
        return
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        from aecli.errors import UserError

        raise UserError(f"trainer.num_threads must be a positive integer or null, got {num_threads!r}")
    import torch

    torch.set_num_threads(num_threads)


def save_config(path: Path, cfg: DictConfig) -> None:
    from aecli.checkpoint import atomic_write

    text = OmegaConf.to_yaml(cfg)
    atomic_write(path, lambda handle: handle.write(text.encode()))


def check_report_settings(cfg: DictConfig) -> None:
    """Reject t-SNE and logging settings that would fail only after training."""
    from aecli.errors import UserError

    for key, least in (("tsne.num_points", 2), ("log.reconstructions_every", 0), ("log.num_reconstructions", 0)):
        value = OmegaConf.select(cfg, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise UserError(f"{key} must be an integer >= {least}, got {value!r}")
    if cfg.tsne.enabled:
        from aecli.latents import check_tsne_backend, check_tsne_max_iter

        check_tsne_backend(cfg.tsne.get("backend", "sklearn"))
        check_tsne_max_iter("tsne.max_iter", cfg.tsne.get("max_iter", 1000))
    perplexity = cfg.tsne.perplexity
    if isinstance(perplexity, bool) or not isinstance(perplexity, (int, float)) or not perplexity > 0:
        raise UserError(f"tsne.perplexity must be a number > 0, got {perplexity!r}")
