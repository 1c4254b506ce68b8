"""`aecli finetune`'s comparison: does pretraining help with N labels?

The run's pretrained encoder (its deterministic code, `model.encode`) plus a softmax head,
trained end to end on N stratified training labels, against the very same network re-initialised
(`fresh_copy`) and trained on the same labels with the same budget and seed. The best epoch
of each is chosen on a stratified draw of labelled validation samples (as many as N unless
told otherwise), so neither network sees more labels than the comparison says.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from aecli.engine.experiment import Experiment
from aecli.engine.finetune import ClassifierResult, fresh_copy, train_classifier
from aecli.errors import UserError
from aecli.evaluation.probes import stratified_sample
from aecli.models import Autoencoder


class CodeMap(nn.Module):
    """x -> the model's deterministic code (encoder + bottleneck mean), as one trainable module."""

    def __init__(self, model: Autoencoder):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model.encode(x)


@dataclass
class Comparison:
    labels: int
    val_labels: int
    pretrained: ClassifierResult
    scratch: ClassifierResult
    seconds: dict[str, float]
    settings: str  # the budget both networks had, in words

    def metrics(self) -> dict[str, float]:
        return {f"finetune_acc_{self.labels}": self.pretrained.test_acc, f"scratch_acc_{self.labels}": self.scratch.test_acc}


def compare_finetuning(
    experiment: Experiment, labels: int, val_labels: int | None, epochs: int, batch_size: int, lr: float, seed: int,
    progress=print,
) -> Comparison:
    """Train both networks on a trained `experiment` over labelled data (see the module docstring);
    a label budget the splits cannot give, or a network that cannot be re-initialised, is a UserError."""
    data, model = experiment.data, experiment.model
    if data.train.labels is None:
        raise ValueError("fine-tuning needs labelled data; the caller checks it and says which run has none")
    rng = np.random.default_rng(seed)
    try:
        train_idx = stratified_sample(data.train.labels.cpu().numpy(), labels, rng)
        val_count = min(labels, len(data.val)) if val_labels is None else val_labels
        val_idx = stratified_sample(data.val.labels.cpu().numpy(), val_count, rng)
        encoder = CodeMap(model)
        scratch_encoder = fresh_copy(encoder, seed)
    except ValueError as error:
        raise UserError(f"aecli finetune labels={labels}: {error}") from None
    num_classes = 1 + int(max(split.labels.max() for split in (data.train, data.val, data.test)))
    # The train split as the model saw it (variance-MNIST draws its noise here, seeded by the run).
    torch.manual_seed(experiment.seed)
    train_x = data.training_batch(data.train.batch(torch.as_tensor(train_idx)))
    splits = (
        train_x, data.train.labels[train_idx], data.val.batch(torch.as_tensor(val_idx)), data.val.labels[val_idx],
        data.test.x, data.test.labels,
    )
    results, seconds = {}, {}
    for name, network in (("pretrained", encoder), ("scratch", scratch_encoder)):
        progress(f"training the {name} network: {labels} labels, {epochs} epochs ...")
        started = time.perf_counter()
        results[name] = train_classifier(
            network, model.latent_dim, num_classes, *splits, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
            device=experiment.device,
        )
        seconds[name] = time.perf_counter() - started
    settings = f"{epochs} epochs, batch {batch_size}, Adam lr {lr:g}, seed {seed}"
    return Comparison(labels, len(val_idx), results["pretrained"], results["scratch"], seconds, settings)


def format_comparison(comparison: Comparison) -> list[str]:
    """The printed table: each network's test accuracy, best epoch and validation accuracy."""
    rows = (("pretrained encoder + head", comparison.pretrained, "pretrained"), ("same network from scratch", comparison.scratch, "scratch"))
    lines = [f"  {'network':<27}{'test acc':>9}{'best epoch':>12}{'val acc':>9}{'seconds':>9}"]
    for title, result, key in rows:
        lines.append(
            f"  {title:<27}{result.test_acc:>9.4f}{result.best_epoch:>12d}{result.best_val_acc:>9.4f}{comparison.seconds[key]:>9.1f}"
        )
    gain = comparison.pretrained.test_acc - comparison.scratch.test_acc
    lines.append(f"  {'pretraining gains':<27}{gain:>+9.4f}")
    return lines
