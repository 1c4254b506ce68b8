"""The experiment: everything one run trains and evaluates, built once from its config and handed
on whole. `fit`, the test figures, `aecli evaluate`, the pictures, finetune, encode and
`aecli.load_run` all take it.

Options compose with the others' defaults: `likelihood=auto` (the default) becomes the first of its
candidates that accepts this data and model (`Likelihood.accepts`), and a regularizer that needs a
code activation (sparse_kl: sigmoid) gets it when the model's `code_activation` is left at null.
Both choices are written into the config, so the saved config and every checkpoint record them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from aecli.data import Dataset, build_dataset
from aecli.engine.device import choose_precision, data_budget, flush_denormals
from aecli.engine.distributed import SINGLE, World, wrap
from aecli.engine.optim import build_optimizer
from aecli.engine.schedule import settle_epochs, steps_per_epoch
from aecli.errors import UserError
from aecli.likelihoods import LIKELIHOODS, Likelihood, build_likelihood
from aecli.models import MODELS, Autoencoder, build_model, count_parameters
from aecli.regularizers import Regularizer, bottleneck_for, build_regularizers
from aecli.runs.checkpoint import load_model_state


@dataclass
class Experiment:
    """One run's parts, checked against each other, on `device`; `cfg` is the run's resolved config
    (with what the options chose for each other) and `optimizer` trains `model` as cfg.trainer says."""

    cfg: DictConfig
    device: torch.device
    data: Dataset
    likelihood: Likelihood
    regularizers: list[Regularizer]
    model: Autoencoder
    brought: list[str] = field(default_factory=list)  # what the options chose for each other, for the start line
    world: World = SINGLE  # this process's place in a distributed run (aecli.engine.distributed)
    _optimizer: torch.optim.Optimizer | None = field(default=None, repr=False)
    _forward_with: torch.nn.Module | None = field(default=None, repr=False)

    @property
    def forward_with(self) -> torch.nn.Module:
        """What the training step calls the model through: DistributedDataParallel in a distributed
        run (built on first use, its batch norms synchronized with model.sync_batch_norm), else the model."""
        if self._forward_with is None:
            self._forward_with = wrap(self.model, self.device, bool(self.cfg.model.get("sync_batch_norm", False)))
        return self._forward_with

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """cfg.trainer's optimizer over the model's parameters, built when first asked for (by
        training): reading a finished run needs none, and torch's fused Adam imports its compiler
        stack when built (1.6 s on the 2-core Zen 4, docs/performance.md)."""
        if self._optimizer is None:
            self._optimizer = build_optimizer(self.model, self.cfg.trainer)
        return self._optimizer

    @property
    def seed(self) -> int:
        return int(self.cfg.seed)

    @property
    def eval_batch_size(self) -> int:
        """Samples per batch when whole splits are encoded or scored (memory only, never the result)."""
        return int(self.cfg.trainer.eval_batch_size)

    def restore(self, payload: dict[str, Any], path: str | Path, optimizer: bool = False) -> None:
        """A checkpoint's weights into the model (a UserError naming the mismatch when it was written
        for another architecture) and, with `optimizer`, the optimizer's state (resume)."""
        load_model_state(self.model, payload.get("model"), path)
        if optimizer:
            self.optimizer.load_state_dict(payload["optimizer"])

    def describe(self) -> str:
        """The start line's account of the parts: splits, model size, code layer, likelihood, regularizers, placement."""
        data, model = self.data, self.model
        return (
            f"dataset={self.cfg.dataset.name} ({len(data.train)}/{len(data.val)}/{len(data.test)} train/val/test samples "
            f"of shape {tuple(data.sample_shape)}), model={self.cfg.model.name} ({count_parameters(model):,} parameters, "
            f"{model.bottleneck.label} code), likelihood={self.cfg.likelihood.name}, "
            f"regularizer=[{','.join(r.name for r in self.regularizers)}], device={self.device}, samples {data.placement}, "
            f"{self.cfg.trainer.epochs} epochs of {steps_per_epoch(len(data.train), int(self.cfg.trainer.batch_size))} steps "
            f"(batch {self.cfg.trainer.batch_size})"
        )


def build_experiment(cfg: DictConfig, device: torch.device, world: World = SINGLE) -> Experiment:
    """Dataset, likelihood, regularizers, model and optimizer for `cfg`, checked against each other
    (a UserError before any training when they cannot work together), on `device`.

    The model family builds the code layer the chosen terms declare (`bottleneck_for`: a Gaussian
    one for the VAE's KL term). The samples move to `device` when they fit there (`data.placement`),
    else they stay in host memory and are streamed per batch. `cfg` is updated in place with what
    `auto` and the regularizers chose (see the module docstring). Draws the model's initial weights
    from torch's generator: seed it first."""
    flush_denormals()  # training, evaluation and the benchmarks all build their run here
    regularizers = build_regularizers(cfg.regularizer)
    data = build_dataset(cfg.dataset, cfg.data)
    brought = bring_code_activation(cfg, regularizers)
    brought += filter(None, [settle_epochs(cfg.trainer, len(data.train))])
    likelihood, model = _likelihood_and_model(cfg, data, regularizers, brought)
    for regularizer in regularizers:
        regularizer.check(model, data)
        regularizer.likelihood = likelihood
    if model.needs_input_statistics:  # the whole train split as float: only for a model that uses it
        model.fit_input(data.train.x)
    placed = data.to(device, data_budget(device, str(cfg.data.placement)))
    model = model.to(device)
    precision, why = choose_precision(str(cfg.trainer.precision), count_parameters(model), int(cfg.trainer.batch_size), device)
    if precision != cfg.trainer.precision:  # auto chose: the saved config records it
        OmegaConf.update(cfg, "trainer.precision", precision)
        brought.append(f"trainer.precision={precision} ({why})")
    return Experiment(cfg, device, placed, likelihood, regularizers, model, brought, world)


def _likelihood_and_model(
    cfg: DictConfig, data: Dataset, regularizers: list[Regularizer], brought: list[str]
) -> tuple[Likelihood, Autoencoder]:
    """The model, built once, and the likelihood: the one `cfg.likelihood` names, or for a choice
    (auto) the first candidate that accepts the data and the model; the choice goes into `cfg`."""
    options = LIKELIHOODS.candidates(cfg.likelihood)
    candidates = [build_likelihood(option) for option in options]
    outputs = {candidate.outputs_per_dim for candidate in candidates}
    if len(outputs) != 1:  # one model serves every candidate of a choice
        raise RuntimeError(f"the candidates of likelihood={cfg.likelihood.name} differ in outputs per dimension")
    model = build_model(cfg.model, data.sample_shape, outputs.pop(), bottleneck_for(regularizers, int(cfg.model.latent_dim)),
                        data.num_classes)
    chosen = next((i for i, candidate in enumerate(candidates) if candidate.accepts(data, model)), len(candidates) - 1)
    likelihood = candidates[chosen]
    likelihood.check(data, model)  # none accepts: the (last) refusal, as one line
    if options[chosen] is not cfg.likelihood:  # a choice was made
        with open_dict(cfg):
            cfg.likelihood = options[chosen]
        low, high = data.value_range()
        brought.append(f"likelihood={likelihood.name} (auto: data in [{low:.3g}, {high:.3g}])")
    model.check(likelihood, regularizers, data)
    return likelihood, model


def bring_code_activation(cfg: DictConfig, regularizers: list[Regularizer]) -> list[str]:
    """Set `model.code_activation` to what a regularizer needs when the model has that key at
    null (an explicit value wins, and is then checked by the regularizer); what was set, as lines."""
    brought = []
    for regularizer in regularizers:
        wanted = regularizer.code_activation
        if wanted is None:
            continue
        if "code_activation" not in cfg.model:
            offering = [name for name in MODELS.names if "code_activation" in MODELS.option(name).settings]
            raise UserError(
                f"regularizer.{regularizer.name} needs a {wanted} code layer, but model={cfg.model.get('name', '?')} "
                f"has no model.code_activation; use model={' or model='.join(offering)}"
            )
        if cfg.model.code_activation is None:
            OmegaConf.update(cfg, "model.code_activation", wanted)
            brought.append(f"model.code_activation={wanted} (for regularizer {regularizer.name})")
    return brought
