"""aecli visualize-latents run=RUN_DIR: reopen a run -> encode its test split -> draw the codes
(PNG files in the run directory, figures and projector files in its TensorBoard)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from aecli.commands.app import report_user_errors

OWN_KEYS = {"run", "checkpoint", "method", "num_points", "perplexity", "seed", "embedding_projector", "max_iter", "backend"}


@hydra.main(version_base="1.3", config_path="pkg://aecli.configs", config_name="visualize_latents")
@report_user_errors("visualize-latents")
def main(cfg: DictConfig) -> None:
    visualize_latents(cfg)


def visualize_latents(cfg: DictConfig) -> list[str]:
    """Draw the codes of the run named by `cfg.run`; returns the PNG files written. Holds the
    run folder's lock after checking, before any work, that it can be written."""
    import time

    from aecli.config.keys import VISUALIZE_LATENTS
    from aecli.config.validate import validate_command_config
    from aecli.runs.open import run_argument, writing_into_run

    started = time.perf_counter()
    run_dir = run_argument(cfg, "visualize-latents")
    validate_command_config(cfg, VISUALIZE_LATENTS)
    if cfg.method == "tsne":
        from aecli.report.latents import check_tsne_backend

        check_tsne_backend(cfg.backend)
    with writing_into_run(run_dir, "visualize-latents"):
        return _draw(cfg, started)


def _draw(cfg: DictConfig, started: float) -> list[str]:
    import time

    from aecli.api import load_run
    from aecli.runs.open import command_overrides

    run = load_run(cfg.run, cfg.checkpoint, command_overrides(cfg, OWN_KEYS))

    from torch.utils.tensorboard import SummaryWriter

    from aecli.report.latents import check_method, draw_latents

    model, data = run.experiment.model, run.experiment.data
    check_method(cfg.method, model.latent_dim)
    # A 2-D code is also drawn as it is: the direct scatter costs nothing.
    methods = [cfg.method] + (["scatter"] if model.latent_dim == 2 and cfg.method != "scatter" else [])
    seed = run.cfg.seed if cfg.seed is None else cfg.seed

    written = []
    with SummaryWriter(str(run.path / "tensorboard")) as writer:
        for i, method in enumerate(methods):
            png = run.path / f"latent_{method}.png"
            embedding = draw_latents(
                model, data, method, cfg.num_points, float(cfg.perplexity), seed, png, writer, run.epoch,
                run.cfg.trainer.eval_batch_size, projector=cfg.embedding_projector and i == 0,
                backend=cfg.backend, max_iter=cfg.max_iter,
            )
            written.append(str(png))
            print(f"{embedding.title}: {png} ({embedding.seconds:.1f}s)")
    print(
        f"done in {time.perf_counter() - started:.1f}s; TensorBoard tags "
        f"{', '.join(f'latent/{m}' for m in methods)} in {run.path / 'tensorboard'}"
    )
    return written
