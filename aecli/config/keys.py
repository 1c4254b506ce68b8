"""Declarations of the core keys of each command's config (the options of the families
declare their own keys where they register: aecli.registry)."""

from __future__ import annotations

from importlib import resources

from omegaconf import DictConfig, OmegaConf

from aecli.config.schema import Bool, Choice, Float, ImageSize, Int, IntList, Spec, Text

AUTO = "auto"  # likelihood=auto (the default): chosen from the data and the model when the run is built


def option_defaults(group: str, name: str) -> DictConfig:
    """The shipped defaults of option `name` of config group `group` (configs/GROUP/NAME.yaml)."""
    return OmegaConf.create(resources.files("aecli.configs").joinpath(group, f"{name}.yaml").read_text())

TSNE_FIRST_PHASE = 250  # both t-SNE backends' early exaggeration; max_iter counts it
MAX_ITER = Int(
    min=TSNE_FIRST_PHASE + 1,
    requirement=f"be an integer > {TSNE_FIRST_PHASE} (its first {TSNE_FIRST_PHASE} iterations are early exaggeration)",
)
TSNE_BACKENDS = ("auto", "sklearn", "opentsne")  # auto: by the number of points (aecli.report.latents.tsne_backend)
OPTIMIZERS = ("adam", "adamw", "sgd")
PRECISIONS = ("fp32", "bf16")
PRETRAIN = ("none", "layerwise")
SCHEDULERS = ("none", "cosine", "wsd", "step", "plateau")
DIRECTIONS = ("minimize", "maximize")
MAX_SEED = 2**63 - 1  # torch.manual_seed's range

TRAIN: dict[str, Spec] = {
    "seed": Int(min=0, max=MAX_SEED),
    "evaluate_after": Bool(),
    "objective.metric": Text(requirement="be a key of metrics.json such as val_loss"),
    "objective.direction": Choice(*DIRECTIONS, message="{key} must be one of {choices}, got {value!r}"),
    "data.root": Text(nullable=True),
    "data.download": Bool(),
    "data.placement": Choice("auto", "device", "host"),
    "data.train_limit": Int(min=1, nullable=True),
    "trainer.epochs": Int(min=1),
    "trainer.batch_size": Int(min=1),
    "trainer.eval_batch_size": Int(min=1),
    "trainer.bn_stats_samples": Int(min=0, nullable=True, requirement="be an integer >= 0 (training samples; 0 or null: off)"),
    "trainer.optimizer": Choice(*OPTIMIZERS),
    "trainer.lr": Float(min=0, min_open=True, requirement="be a positive number"),
    "trainer.momentum": Float(min=0, max=1, max_open=True),
    "trainer.weight_decay": Float(min=0, nullable=True),
    "trainer.scheduler": Choice(*SCHEDULERS),
    "trainer.warmup_epochs": Int(min=0),
    "trainer.decay_fraction": Float(min=0, max=1, min_open=True),
    "trainer.step_size": Int(min=1),
    "trainer.gamma": Float(min=0, max=1, min_open=True),
    "trainer.grad_clip": Float(min=0, min_open=True, nullable=True, requirement="be a number > 0 (the largest gradient norm) or null"),
    "trainer.patience": Int(min=1, nullable=True, requirement="be a positive integer (epochs without a better validation loss) or null"),
    "trainer.device": Text(),
    "trainer.precision": Choice(*PRECISIONS, message="{key} must be one of {choices}, got {value!r}"),
    "trainer.compile": Bool(),
    "trainer.num_threads": Int(min=1, nullable=True),
    "trainer.progress": Choice("auto", True, False, message="{key} must be auto, true or false, got {value!r}"),
    "trainer.pretrain": Choice(*PRETRAIN),
    "trainer.finetune_epochs": Int(min=0),
    "log.reconstructions_every": Int(min=0),
    "log.num_reconstructions": Int(min=0),
    "log.num_prior_samples": Int(min=1),
    "log.traversal_range": Float(min=0, min_open=True, requirement="be a number > 0 (latents sweep [-range, range])"),
    "log.traversal_steps": Int(min=2),
    "tsne.enabled": Bool(),
    "tsne.num_points": Int(min=2),
    "tsne.perplexity": Float(min=0, min_open=True),
    "tsne.max_iter": MAX_ITER,
    "tsne.backend": Choice(*TSNE_BACKENDS),
    "tsne.embedding_projector": Bool(),
}

# What `aecli evaluate` and `aecli visualize-latents` read beside the run's own config.
RUN_COMMAND: dict[str, Spec] = {
    "checkpoint": Choice("best", "last", message="{key}={value} is not one of {choices}"),
}

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
