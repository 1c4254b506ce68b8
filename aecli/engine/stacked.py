"""Stacked autoencoders: greedy layer-wise pretraining, then fine-tuning of the whole stack.

`trainer.pretrain=layerwise` on an MLP with widths input -> h1 .. hn -> code trains one
shallow autoencoder per layer (Bengio et al. 2007; Vincent et al. 2010): stage k encodes
the features of the frozen layers below it (the input for stage 1) with encoder layer k
and decodes them with the mirrored decoder layer. The stages are built from the full
model's own modules, so training a stage trains those layers in place: after the last
stage the unrolled network already holds every pretrained weight. Each stage runs the one
training loop (`aecli.engine.loop.fit`) on its own experiment (the stage's model, features and
optimizer) with its own TensorBoard prefix and checkpoint folder; then
`fit` trains the whole stack for `trainer.finetune_epochs` (0: pretraining only).

Stage 1 reconstructs the data under the run's likelihood; upper stages reconstruct
real-valued features under a Gaussian with sigma = 1 (half the squared error plus a
constant, nats per sample). Every stage uses fresh copies of the run's regularizers
(a stacked denoising AE corrupts each stage's input, a stacked sparse AE penalizes each
stage's hidden units); fine-tuning uses them on the whole network.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from omegaconf import DictConfig, OmegaConf

from aecli.data import Dataset, Split
from aecli.engine.experiment import Experiment
from aecli.engine.guards import GracefulStop
from aecli.engine.loop import fit
from aecli.engine.state import TrainState
from aecli.engine.steps import encode_split, evaluate_split
from aecli.errors import TrainingDiverged, TrainingStopped, UserError
from aecli.likelihoods import Likelihood
from aecli.likelihoods.gaussian import Gaussian
from aecli.models import Autoencoder
from aecli.regularizers import Regularizer, build_regularizers
from aecli.runs.checkpoint import load_checkpoint, save_checkpoint
from aecli.runs.store import merge_metrics

log = logging.getLogger("aecli")


def check_resume(cfg: DictConfig) -> None:
    """Resuming continues one `fit`; a layer-wise run is several, so it is refused."""
    if cfg.trainer.pretrain == "layerwise":
        raise UserError(
            "resume of a trainer.pretrain=layerwise run is not supported; start the run again "
            "(its pretrain/layer*/checkpoints keep each finished stage for inspection)"
        )


@dataclass
class Stage:
    """One shallow autoencoder of the stack: `model` shares its layers with the full network."""

    index: int  # 1-based, from the input up
    model: Autoencoder
    likelihood: Likelihood

    @property
    def name(self) -> str:
        return f"layer{self.index}"


def build_stages(model: Autoencoder, likelihood: Likelihood) -> list[Stage]:
    """The shallow autoencoders of `model` (`Autoencoder.stages`: only an MLP has them), stage 1
    under the run's likelihood, the upper stages under a Gaussian with sigma 1."""
    return [Stage(k, stage, likelihood if k == 1 else Gaussian(1.0)) for k, stage in enumerate(model.stages(), start=1)]


class PrefixedWriter:
    """A SummaryWriter whose tags all start with `prefix` (one stage's scalars in TensorBoard)."""

    def __init__(self, writer: Any, prefix: str):
        self._writer, self._prefix = writer, prefix

    def add_scalar(self, tag: str, *args: Any, **kwargs: Any) -> None:
        self._writer.add_scalar(self._prefix + tag, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)


def fit_layerwise(
    experiment: Experiment, run_dir: Path, writer: Any, stop: GracefulStop | None = None,
    on_epoch_end: Callable[[int], None] | None = None,
) -> TrainState:
    """Pretrain the model stage by stage (`cfg.trainer.epochs` epochs each), then fine-tune it end
    to end for `cfg.trainer.finetune_epochs`; returns the fine-tuning's TrainState (or, with no
    fine-tuning, one describing the assembled stack) with every stage's seconds included.

    Stage k writes `pretrain/layer<k>/checkpoints/{best,last}.pt` under `run_dir` and its
    scalars as `pretrain/layer<k>/train/...`, `pretrain/layer<k>/val/...`; the stack after a
    stage takes that stage's best weights. Fine-tuning writes the run's own checkpoints and
    `train/`, `val/` scalars like any run, with the experiment's own optimizer.
    """
    cfg, stop = experiment.cfg, stop or GracefulStop()
    stages, stage_regularizers = check_layerwise(experiment)
    started = time.perf_counter()
    summary: dict[str, float] = {}
    features = experiment.data
    for stage, regularizers in zip(stages, stage_regularizers):
        if stage.index > 1:
            features = _features(stages[stage.index - 2].model, features, experiment.eval_batch_size)
            for regularizer in regularizers:
                regularizer.check(stage.model, features)  # e.g. salt and pepper takes the features' range
        log.info("pretraining %s: %d -> %d, %d epochs", stage.name, _width_in(stage), stage.model.latent_dim, cfg.trainer.epochs)
        stage_dir = run_dir / "pretrain" / stage.name
        stage_experiment = dataclasses.replace(
            experiment, cfg=_with(cfg, pretrain_stage=stage.index), data=features, likelihood=stage.likelihood,
            regularizers=regularizers, model=stage.model, _optimizer=None,  # its own, built for the stage's model
        )
        with _no_resume_advice(f"pretraining {stage.name}", stop, cfg.trainer.lr):
            result = fit(stage_experiment, stage_dir, PrefixedWriter(writer, f"pretrain/{stage.name}/"), stop)
        best = stage_dir / "checkpoints" / "best.pt"
        stage.model.load_state_dict(load_checkpoint(best, map_location=experiment.data.train.compute_device)["model"])
        summary[f"pretrain_{stage.name}_val_loss"] = result.best_val_loss
        summary[f"pretrain_{stage.name}_best_epoch"] = result.best_epoch
        summary[f"pretrain_{stage.name}_seconds"] = result.seconds
    pretrain_seconds = time.perf_counter() - started
    summary["pretrain_seconds"] = pretrain_seconds
    writer.flush()

    merge_metrics(run_dir, summary)
    finetune_epochs = int(cfg.trainer.finetune_epochs)
    if finetune_epochs == 0:
        result = _assembled(experiment, run_dir)
    else:
        log.info("fine-tuning the whole stack: %d epochs", finetune_epochs)
        finetuning = dataclasses.replace(experiment, cfg=_with(cfg, trainer={"epochs": finetune_epochs}))
        with _no_resume_advice("fine-tuning", stop, cfg.trainer.lr):
            result = fit(finetuning, run_dir, writer, stop, on_epoch_end=on_epoch_end)
    result.seconds += pretrain_seconds
    return result


def check_layerwise(experiment: Experiment) -> tuple[list[Stage], list[list[Regularizer]]]:
    """The stages and each stage's regularizers, checked before any training (a UserError when
    the run cannot be stacked)."""
    stages = build_stages(experiment.model, experiment.likelihood)
    return stages, [_stage_regularizers(experiment.cfg, stage, experiment.data) for stage in stages]
@contextmanager
def _no_resume_advice(phase: str, stop: GracefulStop, lr: float) -> Iterator[None]:
    """`fit`'s stop and divergence errors advise `resume=`, which a layer-wise run cannot do:
    say where it stopped and to start again instead (metrics.json still records the failure)."""
    try:
        yield
    except TrainingStopped as stopped:
        message = f"{stop.name} received while {phase}; layer-wise runs cannot be resumed: start the run again"
        raise TrainingStopped(message, stopped.exit_code - 128, stopped.metrics) from None
    except TrainingDiverged as diverged:
        message = f"{phase}: {diverged.metrics['failure']}; start the run again with a lower trainer.lr (now {lr})"
        raise TrainingDiverged(message, diverged.metrics) from None


def _width_in(stage: Stage) -> int:
    return int(torch.Size(stage.model.sample_shape).numel())


def _stage_regularizers(cfg: DictConfig, stage: Stage, data: Dataset) -> list[Regularizer]:
    """Fresh regularizer objects for one stage, checked against it before any training; a
    layer-specific penalty must look at the stage's own hidden units (`layer: code`)."""
    regularizers = build_regularizers(cfg.regularizer)
    # Upper stages are checked again on their features once those exist; their units are checked now.
    stage_data = data if stage.index == 1 else _placeholder(stage)
    for regularizer in regularizers:
        if (regularizer.cfg or {}).get("layer", "code") != "code":
            raise UserError(
                f"with trainer.pretrain=layerwise each stage's {regularizer.name} penalty applies to that stage's "
                f"hidden units; set regularizer.{regularizer.name}.layer=code"
            )
        try:
            regularizer.check(stage.model, stage_data)
        except UserError as error:
            raise UserError(f"pretraining {stage.name}: {error}") from None
    return regularizers


def _placeholder(stage: Stage) -> Dataset:
    """A one-sample stand-in for a stage's features, for checks that run before pretraining."""
    device = next(stage.model.parameters()).device
    split = Split(torch.zeros(1, *stage.model.sample_shape, device=device))
    return Dataset("features", split, split, split, kind="signal")


@torch.inference_mode()
def _features(encoder_stage: Autoencoder, data: Dataset, batch_size: int) -> Dataset:
    """Every split pushed through a trained stage's encoder: the next stage's data.

    The train split goes through `data.training_batch` once (variance-MNIST: one noise draw),
    labels and factors travel along.
    """
    train = Split(data.training_batch(data.train.x), data.train.labels, data.train.factors)
    splits = {
        name: Split(encode_split(encoder_stage, split, batch_size).clone(), split.labels, split.factors)
        for name, split in (("train", train), ("val", data.val), ("test", data.test))
    }
    return Dataset(f"{data.name}:features", splits["train"], splits["val"], splits["test"], kind="signal")


def _assembled(experiment: Experiment, run_dir: Path) -> TrainState:
    """With no fine-tuning: the unrolled stack as the run's best.pt and last.pt (epoch 0), and
    its losses on train (uncorrupted) and val."""
    exp = experiment
    train = evaluate_split(exp.model, exp.likelihood, exp.regularizers, exp.data.train, exp.eval_batch_size)
    val = evaluate_split(exp.model, exp.likelihood, exp.regularizers, exp.data.val, exp.eval_batch_size)
    metrics = {f"train_{k}": v for k, v in train.items()} | {f"val_{k}": v for k, v in val.items()}
    config = OmegaConf.to_container(exp.cfg, resolve=True)
    for name in ("best.pt", "last.pt"):
        save_checkpoint(run_dir / "checkpoints" / name, model=exp.model, optimizer=None, epoch=0, config=config, metrics=metrics)
    return TrainState(epochs_completed=0, best_epoch=0, best_val_loss=val["total"], train=train)


def _with(cfg: DictConfig, **changes: Any) -> DictConfig:
    """A copy of `cfg` with `changes` merged in (new keys allowed)."""
    copy = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    return OmegaConf.merge(copy, changes)


__all__ = ["fit_layerwise", "check_layerwise", "build_stages", "check_resume", "PrefixedWriter", "Stage"]
