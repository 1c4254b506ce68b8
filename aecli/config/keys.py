"""Declarations of the core keys of each command's config (the options of the families
declare their own keys where they register: aecli.registry)."""

from __future__ import annotations

import dataclasses
from importlib import resources

from omegaconf import DictConfig, OmegaConf

from aecli.config.schema import Bool, Choice, Float, ImageSize, Int, IntList, Spec, Text


def option_defaults(group: str, name: str) -> DictConfig:
    """The shipped defaults of option `name` of config group `group` (configs/GROUP/NAME.yaml)."""
    return OmegaConf.create(resources.files("aecli.configs").joinpath(group, f"{name}.yaml").read_text())


def shipped_settings(command: str) -> DictConfig:
    """A command's shipped settings (configs/COMMAND.yaml without its defaults list and Hydra's
    node): what `aecli evaluate` runs with after `train evaluate_after=true`."""
    settings = OmegaConf.create(resources.files("aecli.configs").joinpath(f"{command}.yaml").read_text())
    for key in ("defaults", "hydra"):
        settings.pop(key, None)
    return settings


TSNE_FIRST_PHASE = 250  # both t-SNE backends' early exaggeration; max_iter counts it
MAX_ITER = Int(
    min=TSNE_FIRST_PHASE + 1,
    requirement=f"be an integer > {TSNE_FIRST_PHASE} (its first {TSNE_FIRST_PHASE} iterations are early exaggeration)",
)
TSNE_BACKENDS = ("auto", "sklearn", "opentsne")  # auto: by the number of points (aecli.report.latents.tsne_backend)
OPTIMIZERS = ("adam", "adamw", "sgd")
PRECISIONS = ("fp32", "bf16", "auto")  # auto: chosen when the run is built (aecli.engine.device.choose_precision)
PRETRAIN = ("none", "layerwise")
SCHEDULERS = ("none", "cosine", "wsd", "step", "plateau", "iwae")
DIRECTIONS = ("minimize", "maximize")
MAX_SEED = 2**63 - 1  # torch.manual_seed's range

TRAIN: dict[str, Spec] = {
    "seed": Int(min=0, max=MAX_SEED, old=0),
    "name": Text(nullable=True, requirement="be a run name (name=NAME: its folder's name, and run=NAME finds it) or null", old=None),
    "resume": Text(nullable=True, requirement="be a run directory written by aecli train (resume=RUN_DIR), latest, a run's name, or null",
                   old=None),
    "trust_code": Bool(old=False),
    "evaluate_after": Bool(old=False),
    "objective.metric": Text(requirement="be a key of metrics.json such as val_loss", old="val_loss"),
    "objective.direction": Choice(*DIRECTIONS, message="{key} must be one of {choices}, got {value!r}", old="minimize"),
    "data.root": Text(nullable=True),
    "data.download": Bool(),
    "data.placement": Choice("auto", "device", "host", old="auto"),
    "trainer.epochs": Int(min=1, nullable=True, requirement="be a positive integer, or null (auto)"),
    # Runs from before min_steps named their epochs: min_steps acts only on trainer.epochs=null.
    "trainer.min_steps": Int(min=0, old=1000),
    "trainer.batch_size": Int(min=1),
    "trainer.eval_batch_size": Int(min=1, old=4096),
    # Runs from before bn_stats_samples validated with batch norm's running averages.
    "trainer.bn_stats_samples": Int(min=0, nullable=True, requirement="be an integer >= 0 (training samples; 0 or null: off)", old=None),
    "trainer.optimizer": Choice(*OPTIMIZERS, old="adam"),
    "trainer.lr": Float(min=0, min_open=True, requirement="be a positive number"),
    "trainer.momentum": Float(min=0, max=1, max_open=True, old=0.9),
    "trainer.weight_decay": Float(min=0, nullable=True, old=None),
    "trainer.scheduler": Choice(*SCHEDULERS, old="none"),
    "trainer.warmup_epochs": Int(min=0, old=0),
    "trainer.decay_fraction": Float(min=0, max=1, min_open=True, old=0.2),
    "trainer.step_size": Int(min=1, old=10),
    "trainer.gamma": Float(min=0, max=1, min_open=True, old=0.1),
    "trainer.grad_clip": Float(min=0, min_open=True, nullable=True, requirement="be a number > 0 (the largest gradient norm) or null", old=None),
    "trainer.patience": Int(min=1, nullable=True, requirement="be a positive integer (epochs without a better validation loss) or null", old=None),
    "trainer.device": Text(),
    "trainer.devices": Int(min=1, requirement="be the number of processes (one per GPU, or CPU processes): an integer >= 1", old=1),
    "trainer.precision": Choice(*PRECISIONS, message="{key} must be one of {choices}, got {value!r}", old="fp32"),
    "trainer.compile": Bool(old=False),
    "trainer.num_threads": Int(min=1, nullable=True, old=None),
    "trainer.progress": Choice("auto", True, False, message="{key} must be auto, true or false, got {value!r}", old="auto"),
    "trainer.pretrain": Choice(*PRETRAIN, old="none"),
    "trainer.finetune_epochs": Int(min=0, old=0),
    "log.reconstructions_every": Int(min=0),
    "log.num_reconstructions": Int(min=0),
    "log.num_prior_samples": Int(min=1),
    "log.traversal_range": Float(min=0, min_open=True, requirement="be a number > 0 (latents sweep [-range, range])"),
    "log.traversal_steps": Int(min=2),
    "tsne.enabled": Bool(),
    "tsne.num_points": Int(min=2),
    "tsne.perplexity": Float(min=0, min_open=True),
    "tsne.max_iter": dataclasses.replace(MAX_ITER, old=1000),  # scikit-learn's default, which ran before the key
    "tsne.backend": Choice(*TSNE_BACKENDS, old="sklearn"),
    "tsne.embedding_projector": Bool(old=True),
}

# The commands on a finished run (evaluate, visualize-latents, encode, finetune) read their own
# keys, declared below, beside the run's own config: every other key of a command's config is an
# override of the run's config. These run settings are in every such command's YAML at null,
# which keeps the run's own value; any other key is given with a leading +, e.g. +dataset.test_size=100.
RUN_SETTINGS = ("trainer.device", "trainer.eval_batch_size", "trainer.num_threads", "data.root", "data.download")

RUN_COMMAND: dict[str, Spec] = {
    "run": Text(requirement="be a run directory written by aecli train (run=RUN_DIR), latest or a run's name (run=NAME)"),
    "trust_code": Bool(),
    "checkpoint": Choice("best", "last", message="{key}={value} is not one of {choices}"),
}


def own_keys(declarations: dict[str, Spec]) -> set[str]:
    """The top-level keys a command on a finished run owns (the rest of its config overrides the run's)."""
    return {key.split(".")[0] for key in declarations}

EVALUATE: dict[str, Spec] = {
    **RUN_COMMAND,
    "probe.knn_k": Int(min=1),
    "probe.max_iter": Int(min=1),
    "probe.label_budgets": IntList(min=1),
    "probe.draws": Int(min=1),
    "mig_bins": Int(min=2),
    "factor_corr_method": Choice("spearman", "pearson"),
    "sparsity_threshold": Float(min=0, min_open=True),
    "nll_iw_samples": Int(min=1),
    "nll_iw_images": Int(min=1, nullable=True, requirement="be a positive integer (test samples) or null (all)"),
    "jacobian_images": Int(min=1, nullable=True, requirement="be a positive integer (test samples) or null (all)"),
}

ENCODE: dict[str, Spec] = {
    **RUN_COMMAND,
    "input": Text(nullable=True, requirement="be a path (input=PATH) or null"),
    "split": Choice("train", "val", "test", nullable=True),
    "output": Text(requirement="be a file path ending in .npy, .npz or .csv"),
    "layout": Choice("auto", "vectors", "nhw", "nhwc", "nchw"),
    "image_size": ImageSize(nullable=True),
    "channels": Choice(1, 3, nullable=True, message="{key} must be 1, 3 or null (the run's own), got {value}"),
    "label_column": Text(nullable=True),
    "delimiter": Text(),
}

VISUALIZE_LATENTS: dict[str, Spec] = {
    **RUN_COMMAND,
    "method": Choice("tsne", "pca", "scatter"),
    "num_points": Int(min=2),
    "perplexity": Float(min=0, min_open=True),
    "max_iter": Int(min=TSNE_FIRST_PHASE + 1, nullable=True, requirement=(
        f"be an integer > {TSNE_FIRST_PHASE} (its first {TSNE_FIRST_PHASE} iterations are early exaggeration) or null (by size)")),
    "backend": Choice(*TSNE_BACKENDS),
    "seed": Int(min=0, max=MAX_SEED, nullable=True),
    "embedding_projector": Bool(),
    "filters.max_filters": Int(min=1),
    "interpolation.pairs": Int(min=0),
    "interpolation.steps": Int(min=2),
    "interpolation.method": Choice("linear", "slerp"),
}

# `aecli finetune run=RUN_DIR labels=N`: encoder + softmax head, pretrained against from scratch.
FINETUNE: dict[str, Spec] = {
    **RUN_COMMAND,
    "labels": Int(min=1, requirement="be a positive number of training labels, e.g. labels=100"),
    "val_labels": Int(min=1, nullable=True, requirement="be a positive number of validation labels or null (as many as labels)"),
    "epochs": Int(min=1),
    "batch_size": Int(min=1),
    "lr": Float(min=0, min_open=True, requirement="be a positive number"),
    "seed": Int(min=0, max=MAX_SEED, nullable=True),
}

# Each command's own declarations, by the name of its config (configs/NAME.yaml): what its
# help lists and where an unknown --flag looks for the key it meant.
COMMAND_KEYS: dict[str, dict[str, Spec]] = {
    "train": TRAIN, "evaluate": EVALUATE, "encode": ENCODE, "visualize_latents": VISUALIZE_LATENTS, "finetune": FINETUNE,
}
