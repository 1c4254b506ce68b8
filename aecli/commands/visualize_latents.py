"""aecli visualize-latents run=RUN_DIR: reopen a run -> encode its test split -> draw the codes
(PNG files in the run directory, figures and projector files in its TensorBoard)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from aecli.commands.finished_run import check_command, open_run
from aecli.commands.user_errors import report_user_errors
from aecli.config.keys import VISUALIZE_LATENTS


@hydra.main(version_base="1.3", config_path="pkg://aecli.configs", config_name="visualize_latents")
@report_user_errors("visualize-latents")
def main(cfg: DictConfig) -> None:
    visualize_latents(cfg)


def visualize_latents(cfg: DictConfig) -> list[str]:
    """Draw the codes of the run named by `cfg.run`; returns the PNG files written. Holds the
    run folder's lock after checking, before any work, that it can be written."""
    import time

    from aecli.runs.open import writing_into_run

    started = time.perf_counter()
    check_command(cfg, VISUALIZE_LATENTS)
    if cfg.method == "tsne":
        from aecli.report.latents import check_tsne_backend

        check_tsne_backend(cfg.backend)
    with writing_into_run(cfg.run, "visualize-latents"):
        return _draw(cfg, started)


def _draw(cfg: DictConfig, started: float) -> list[str]:
    import time

    run = open_run(cfg, VISUALIZE_LATENTS, writes_metrics=False)

    from torch.utils.tensorboard import SummaryWriter

    from aecli.report.latents import check_method, draw_latents
    from aecli.runs.store import events_folder

    model, data = run.experiment.model, run.experiment.data
    check_method(cfg.method, model.latent_dim)
    # A 2-D code is also drawn as it is: the direct scatter costs nothing.
    methods = [cfg.method] + (["scatter"] if model.latent_dim == 2 and cfg.method != "scatter" else [])
    seed = run.cfg.seed if cfg.seed is None else cfg.seed

    written, events = [], events_folder(run.path)
    with SummaryWriter(str(events)) as writer:
        for i, method in enumerate(methods):
            png = run.path / f"latent_{method}.png"
            embedding = draw_latents(
                model, data, method, cfg.num_points, float(cfg.perplexity), seed, png, writer, run.epoch,
                run.cfg.trainer.eval_batch_size, projector=cfg.embedding_projector and i == 0,
                backend=cfg.backend, max_iter=cfg.max_iter,
            )
            written.append(str(png))
            print(f"{embedding.title}: {png} ({embedding.seconds:.1f}s)")
        tags = [f"latent/{m}" for m in methods] + _weights_and_paths(run, cfg, seed, writer, written)
    print(f"done in {time.perf_counter() - started:.1f}s; TensorBoard tags {', '.join(tags)} in {events}")
    return written


def _weights_and_paths(run, cfg: DictConfig, seed: int, writer, written: list[str]) -> list[str]:
    """filters.png (the first layer's weights) and interpolations.png (decoded paths between
    test codes), each also in TensorBoard; returns their tags."""
    from aecli.report.filters import filters_picture
    from aecli.report.interpolations import interpolation_picture
    from aecli.report.pictures import write_picture

    model, data, tags = run.experiment.model, run.experiment.data, []
    filters = filters_picture(model, data, int(cfg.filters.max_filters))
    if filters is None:
        print("filters: this model has no first-layer weights to draw")
    else:
        write_picture(writer, filters[0], filters[1], run.path / "filters.png", run.epoch)
        written.append(str(run.path / "filters.png"))
        tags.append(filters[0])
        print(f"first-layer filters: {run.path / 'filters.png'}")
    spec = cfg.interpolation
    strip = interpolation_picture(
        model, run.experiment.likelihood, data, int(spec.pairs), int(spec.steps), str(spec.method), seed
    )
    if strip is None:
        print("interpolations: none (interpolation.pairs=0, fewer than 2 test samples, or a decoder that needs its input)")
    else:
        write_picture(writer, "latent/interpolations", strip, run.path / "interpolations.png", run.epoch)
        written.append(str(run.path / "interpolations.png"))
        tags.append("latent/interpolations")
        print(f"{spec.pairs} {spec.method} interpolations of {spec.steps} steps: {run.path / 'interpolations.png'}")
    return tags
