"""The Python API: reopen a finished run and use its model from your own scripts.

    import aecli
    run = aecli.load_run("outputs/2026-11-30/12-00-00")
    codes = run.encode(images)          # (N, latent_dim); the posterior mean for a VAE
    images_back = run.reconstruct(images)
    new = run.sample(16)                # VAE runs only
    sevens = run.sample(16, label=7)    # a conditional VAE (model.conditional=true): of one class

Inputs are NumPy arrays or torch tensors in the data's own shape and scale: images as
(N, C, H, W) (also (N, H, W) when C = 1, or channels-last (N, H, W, C)), uint8 0..255 or
float in the run's range; vectors (N, D) in their raw units (a run trained on standardized
data standardizes them with its training statistics, and `decode` undoes it). Outputs come
back as the input came in: NumPy for NumPy, tensors on the input's device for tensors.
Work runs in batches of `trainer.eval_batch_size` on the run's device (or `device=`).
A conditional run's encoder and decoder also take each sample's class: `labels=` (one class index
per sample, or one for all) in encode, indices, decode and reconstruct, `label=` in sample.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from torch import Tensor

from aecli.engine.experiment import Experiment
from aecli.errors import UserError

ArrayLike = np.ndarray | Tensor


@dataclass
class Run:
    """A run rebuilt from its directory: its experiment (`cfg` is the run's resolved config with
    any overrides applied) with the checkpoint `checkpoint_name`'s weights, from `epoch`."""

    path: Path
    experiment: Experiment
    checkpoint_name: str
    epoch: int

    @property
    def cfg(self) -> DictConfig:
        return self.experiment.cfg

    @property
    def config(self) -> DictConfig:
        return self.experiment.cfg

    @property
    def model(self) -> torch.nn.Module:
        return self.experiment.model

    @property
    def device(self) -> torch.device:
        return self.experiment.device

    @property
    def batch_size(self) -> int:
        return self.experiment.eval_batch_size

    @property
    def title(self) -> str:
        """Which run and checkpoint, for the commands' first lines."""
        return f"{self.path} (checkpoint {self.checkpoint_name}, epoch {self.epoch})"

    @torch.inference_mode()
    def encode(self, x: ArrayLike, labels: Any = None) -> ArrayLike:
        """The deterministic codes (N, latent_dim) of samples `x` (the posterior mean for a VAE)."""
        chunks, back = self._samples(x, labels)
        return back(torch.cat([self.model.encode(chunk, y) for chunk, y in chunks]))

    @torch.inference_mode()
    def indices(self, x: ArrayLike, labels: Any = None) -> ArrayLike | None:
        """A discrete code's indices of samples `x`, (N, slots) int64 (a VQ-VAE's chosen codebook
        vectors); None for a run whose code is not discrete."""
        chunks, back = self._samples(x, labels)
        found = [self.model.bottleneck.indices(self.model.encoded(chunk, y)) for chunk, y in chunks]
        return None if found and found[0] is None else back(torch.cat(found))

    @torch.inference_mode()
    def decode(self, z: ArrayLike, labels: Any = None) -> ArrayLike:
        """The decoder's mean for codes `z` (N, latent_dim), in the data's shape and scale."""
        codes, back = _as_tensor(z)
        codes = codes.to(self.device)
        if codes.ndim != 2 or codes.shape[1] != self.model.latent_dim:
            raise UserError(f"decode takes codes of shape (N, {self.model.latent_dim}), got {tuple(codes.shape)}")
        if self.model.input_gain:
            raise UserError("this run's decoder rescales its input (model.input_gain=true): use reconstruct(x) instead of decode(z)")
        return back(self._decoded(codes.float(), self._labels(labels, len(codes), "labels")))

    @torch.inference_mode()
    def reconstruct(self, x: ArrayLike, labels: Any = None) -> ArrayLike:
        """decode(encode(x)): the decoder's mean for the deterministic code of each sample."""
        chunks, back = self._samples(x, labels)
        likelihood, data = self.experiment.likelihood, self.experiment.data
        parts = [likelihood.mean(self.model.decode(self.model.encode(c, y), c, y)) for c, y in chunks]
        return back(data.denormalize(torch.cat(parts)))

    @torch.inference_mode()
    def sample(self, n: int, seed: int | None = None, label: Any = None) -> np.ndarray:
        """`n` draws from the prior, decoded (VAE runs only), as a NumPy array; a conditional run's
        of class `label` (one class index, or one per sample)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise UserError(f"sample(n) needs a positive number of samples, got {n!r}")
        generator = torch.Generator()
        if seed is None:
            generator.seed()  # fresh draws on every call
        else:
            generator.manual_seed(seed)
        codes = self.model.sample_prior(n, generator)
        if codes is None:
            raise UserError(f"sample() needs a generative run (trained with regularizer=vae); in {self.path} "
                            f"{self.model.bottleneck.no_prior}")
        return self._decoded(codes, self._labels(label, n, "label")).cpu().numpy()

    def _decoded(self, codes: Tensor, labels: Tensor | None = None) -> Tensor:
        likelihood, data = self.experiment.likelihood, self.experiment.data
        parts = [likelihood.mean(self.model.decode(chunk, y=None if labels is None else labels[start : start + len(chunk)]))
                 for start, chunk in zip(range(0, len(codes), self.batch_size), codes.split(self.batch_size))]
        return data.denormalize(torch.cat(parts))

    def _labels(self, labels: Any, n: int, name: str) -> Tensor | None:
        """`labels` (one class index, or n of them) as a tensor (n,) on the run's device; a conditional
        run needs them, any other run takes none."""
        classes = self.model.classes
        if labels is None:
            if classes:
                raise UserError(f"{self.path} is a conditional VAE (model.conditional=true): pass {name}= with the class "
                                f"of each sample (0..{classes - 1}), or one class for all")
            return None
        if not classes:
            raise UserError(f"{name}= is for conditional runs (model.conditional=true); {self.path} is not one: leave it out")
        tensor = torch.as_tensor(np.asarray(labels.cpu() if isinstance(labels, Tensor) else labels))
        if tensor.is_floating_point() or tensor.dtype == torch.bool or tensor.ndim > 1:
            raise UserError(f"{name}= takes class indices (integers 0..{classes - 1}), one or one per sample")
        tensor = tensor.long().reshape(-1).expand(n) if tensor.numel() == 1 else tensor.long()
        if len(tensor) != n:
            raise UserError(f"{name}= has {len(tensor)} class indices for {n} samples; give one per sample, or one for all")
        if len(tensor) and (tensor.min() < 0 or tensor.max() >= classes):
            raise UserError(f"{name}= holds class {int(tensor.max() if tensor.max() >= classes else tensor.min())}, but "
                            f"this run knows classes 0..{classes - 1}")
        return tensor.to(self.device)

    def _samples(self, x: ArrayLike, labels: Any = None) -> tuple[Iterator[tuple[Tensor, Tensor | None]], Any]:
        """`x` as float batches in the model's shape and scale on the run's device (each
        converted as it is used), with a conditional run's labels, and the function that turns a
        result back into the input's kind."""
        tensor, back = _as_tensor(x)
        data = self.experiment.data
        tensor = _in_sample_shape(tensor, data.sample_shape)
        wanted = self._labels(labels, len(tensor), "labels")

        def chunks() -> Iterator[tuple[Tensor, Tensor | None]]:
            for start, chunk in zip(range(0, len(tensor), self.batch_size), tensor.split(self.batch_size)):
                y = None if wanted is None else wanted[start : start + len(chunk)]
                yield data.normalize(chunk.to(self.device)), y

        return chunks(), back


def load_run(
    run: str | Path, checkpoint: str = "best", overrides: dict[str, Any] | None = None, *, device: str | None = None,
    trust_code: bool = False,
) -> Run:
    """Rebuild the run at `run` from `.hydra/config.yaml` (plus `overrides`, e.g. a new
    data.root) and load `checkpoints/<checkpoint>.pt` (weights_only) into its model, on
    `device` (auto, cpu, cuda, cuda:N, mps; None: the run's own trainer.device). `run` is a
    folder, or `"latest"` (the run trained last under ./outputs), or a run's name (the newest
    run of that name; aecli.runs.find).

    A run folder is data: a config (or checkpoint) that names code to import (`_target_`, a
    user's own class) is refused unless `trust_code=True` says you trust that folder."""
    from aecli.engine.device import resolve_device
    from aecli.engine.experiment import build_experiment
    from aecli.runs.checkpoint import load_checkpoint
    from aecli.runs.config import check_train_config
    from aecli.runs.open import check_same_model, locate_run

    if device is not None:
        overrides = {**(overrides or {}), "trainer": {**(overrides or {}).get("trainer", {}), "device": str(device)}}
    path, cfg, checkpoint_path = locate_run(run, checkpoint, overrides, trust_code)

    check_train_config(cfg)
    resolved = resolve_device(cfg.trainer.device)
    payload = load_checkpoint(checkpoint_path, map_location=resolved)
    check_same_model(payload, cfg, checkpoint_path, trust_code)

    torch.manual_seed(cfg.seed)
    experiment = build_experiment(cfg, resolved)
    experiment.restore(payload, checkpoint_path)
    experiment.model.eval()
    return Run(path, experiment, checkpoint, int(payload.get("epoch", 0)))


def _as_tensor(x: ArrayLike) -> tuple[Tensor, Any]:
    """`x` as a tensor where it is, and how to hand a result back: as a tensor on x's device
    for a tensor, as NumPy for anything else."""
    if isinstance(x, Tensor):
        source_device = x.device
        return x.detach(), lambda out: out.to(source_device)
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise UserError(f"expected numbers, got an array of {array.dtype}; pass a numeric NumPy array or tensor")
    return torch.from_numpy(np.ascontiguousarray(array)), lambda out: out.cpu().numpy()


def _in_sample_shape(x: Tensor, sample_shape: tuple[int, ...]) -> Tensor:
    """(N, *sample_shape) from the accepted layouts of the data's own shape."""
    if tuple(x.shape[1:]) == sample_shape and x.ndim >= 2:
        return x
    if len(sample_shape) == 3:
        channels, height, width = sample_shape
        if channels == 1 and tuple(x.shape[1:]) == (height, width):
            return x.unsqueeze(1)
        if tuple(x.shape[1:]) == (height, width, channels):
            return x.permute(0, 3, 1, 2)
    raise UserError(
        f"this run takes samples of shape {sample_shape} (a batch: (N, {', '.join(map(str, sample_shape))})), "
        f"got {tuple(x.shape)}; reshape or resize the input to match"
    )
