"""Time one training step (forward, loss, backward, Adam step) per regularizer against the plain AE.

    python benchmarks/regularizer_overhead.py [--steps 30] [--repeats 3] [--batch-size 128]

Batches are MNIST-shaped (1x28x28, values in [0, 1]); the models are the ones the
README names. Each configuration is timed `repeats` times, interleaved with the others,
and the median milliseconds per step is reported with its ratio to the plain AE of the
same architecture, so a busy machine shifts the numbers together rather than apart.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from aecli.likelihoods import build_likelihood
from aecli.models import build_model
from aecli.regularizers import build_regularizers
from aecli.engine.steps import loss_terms

ROOT = Path(__file__).resolve().parents[1] / "configs"

ARCHITECTURES = {
    "mlp 784-1000-500-250-10": ("mlp", {"hidden_dims": [1000, 500, 250], "latent_dim": 10}),
    "sigmoid layer 784-200 (closed form)": ("mlp", {"hidden_dims": [], "latent_dim": 200, "code_activation": "sigmoid"}),
    "conv [32,64]-10": ("conv", {"latent_dim": 10}),
}
REGULARIZERS = {
    "plain": {},
    "denoising": {"denoising": {}},
    "l2": {"l2": {}},
    "sparse_l1": {"sparse_l1": {}},
    "contractive": {"contractive": {}},
    "contractive, 1 projection": {"contractive": {"projections": 1}},
}


def build(model_name: str, overrides: dict, chosen: dict):
    cfg = OmegaConf.merge(OmegaConf.load(ROOT / "model" / f"{model_name}.yaml"), overrides)
    model = build_model(cfg, (1, 28, 28))
    node = {n: OmegaConf.merge(OmegaConf.load(ROOT / "regularizer" / f"{n}.yaml"), s) for n, s in chosen.items()}
    return model, build_regularizers(OmegaConf.create(node))


def time_steps(model, regularizers, likelihood, x: torch.Tensor, steps: int) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(steps):
        terms, _ = loss_terms(model, likelihood, regularizers, x)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.rand(args.batch_size, 1, 28, 28)
    likelihood = build_likelihood(OmegaConf.create({"name": "bernoulli"}))
    setups = {
        (arch, reg): build(model_name, overrides, chosen)
        for arch, (model_name, overrides) in ARCHITECTURES.items()
        for reg, chosen in REGULARIZERS.items()
    }
    for model, regularizers in setups.values():  # warm-up
        time_steps(model, regularizers, likelihood, x, 2)
    times: dict[tuple[str, str], list[float]] = {key: [] for key in setups}
    for _ in range(args.repeats):
        for key, (model, regularizers) in setups.items():
            times[key].append(time_steps(model, regularizers, likelihood, x, args.steps))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
          f"batch {args.batch_size}, median of {args.repeats} x {args.steps} steps\n")
    print("| architecture | regularizer | ms per step | vs plain |")
    print("| --- | --- | ---: | ---: |")
    for (arch, reg), values in times.items():
        median = statistics.median(values)
        plain = statistics.median(times[(arch, "plain")])
        print(f"| {arch} | {reg} | {median:.1f} | {median / plain:.2f}x |")


if __name__ == "__main__":
    main()
