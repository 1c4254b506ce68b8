"""Time aecli's training loop against a plain PyTorch loop, side by side, in one process.

    python benchmarks/run.py --data-root DATA                  # every config, CPU, writes benchmarks/results/
    python benchmarks/run.py --data-root DATA --configs vae --epochs 10 --variants --tsne 2000,5000,10000 --startup
    python benchmarks/run.py --data-root DATA --quick          # a few batches of each config: checks it runs
    python benchmarks/run.py --data-root DATA --device cuda    # on a GPU (synchronized timings, CUDA peak memory)
    python benchmarks/run.py --data-root DATA --precision bf16 # aecli's side in bf16 (the reference stays fp32)

For each config (MNIST; see CONFIGS) aecli's `fit` — the loop `aecli train` runs: data on
the device, index batching, one host sync per epoch, checkpoints every epoch — and the
reference loop (benchmarks/reference.py: DataLoader over a Dataset converting one sample at
a time, `loss.item()` every step, default Adam) train models with the same initial weights
on the same data, epoch by epoch in turn (ours, reference, ours, ...), so a busy machine
slows both alike and the ratio of their epoch times is what to read. Each epoch includes
its validation pass. Reported per side: median epoch seconds, epochs/s, training samples/s,
final test loss (aecli's `evaluate_split` for both models, same seed), memory (CPU: resident
size added by the data and model, and the peak rise during an epoch; CUDA: max allocated).
Roofline columns (benchmarks/roofline.py): each config's FLOPs per epoch counted with
FlopCounterMode on the real model, the practical peak of a 2048x2048 matrix product measured
between the epochs with the same threads, in fp32 and (where the hardware has it) in bf16, the
achieved GFLOP/s and its fraction of the peak of the precision each side ran, for both loops.
The report names the CPU, its flags and the load. `--threads 1` keeps the fraction meaningful on
a machine shared with others.

Optional sections: --variants times training steps of the fast-path options (bf16 autocast,
torch.compile, unfused Adam, thread counts) on the VAE; --tsne times t-SNE of test codes
(scikit-learn, and openTSNE when installed); --startup times `aecli --help` and `aecli train`
from launch to its first finished step.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference import ReferenceLoop  # noqa: E402
from roofline import PeakMeter, eval_flops, roofline, step_flops  # noqa: E402

from aecli.data import Split  # noqa: E402
from aecli.engine.experiment import build_experiment  # noqa: E402
from aecli.engine.guards import GracefulStop  # noqa: E402
from aecli.engine.loop import fit  # noqa: E402
from aecli.engine.optim import build_optimizer, make_step_loss  # noqa: E402
from aecli.engine.device import cpu_description  # noqa: E402
from aecli.engine.steps import encode_split, evaluate_split, loss_terms  # noqa: E402

# name -> (description, overrides); every config is MNIST with the Bernoulli likelihood.
CONFIGS: dict[str, tuple[str, list[str]]] = {
    "vae": ("VAE 784-400-20, batch 128", ["regularizer=vae", "model.hidden_dims=[400]", "model.latent_dim=20", "trainer.batch_size=128"]),
    "ae": ("AE 784-1000-500-250-30, batch 128", ["model.hidden_dims=[1000,500,250]", "model.latent_dim=30", "trainer.batch_size=128"]),
    "conv": ("conv AE [32,64]-10, batch 128", ["model=conv", "model.latent_dim=10", "trainer.batch_size=128"]),
    "contractive": (
        "contractive AE 784-1000-500-250-10, batch 128",
        ["regularizer=contractive", "model.hidden_dims=[1000,500,250]", "model.latent_dim=10", "trainer.batch_size=128"],
    ),
}
QUICK = ["dataset.train_size=512", "dataset.val_size=256", "dataset.test_size=256"]
EVAL_SEED = 1234


class NullWriter:
    """Stands in for TensorBoard's SummaryWriter: the benchmark times training, not event files."""

    def add_scalar(self, *args: Any, **kwargs: Any) -> None: ...

    def flush(self) -> None: ...


class MemoryProbe:
    """Resident set size of this process (Linux /proc), sampled every few milliseconds while
    armed, so the peak during one side's epoch is seen even though both sides share the process."""

    def __init__(self, device: torch.device):
        self.device, self.peak, self._armed = device, 0, threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        threading.Thread(target=self._sample, daemon=True).start()

    def rss(self) -> int:
        try:
            with open("/proc/self/statm") as handle:
                return int(handle.read().split()[1]) * self._page
        except OSError:  # not Linux: the process's peak so far (ru_maxrss, KiB on Linux, bytes on macOS)
            import resource

            scale = 1 if sys.platform == "darwin" else 1024
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale

    def _sample(self) -> None:
        while self._armed.wait():  # asleep while disarmed
            self.peak = max(self.peak, self.rss())
            time.sleep(0.005)

    def arm(self) -> int:
        """Start watching; returns the resident size now."""
        now = self.rss()
        self.peak = now
        self._armed.set()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        return now

    def disarm(self) -> dict[str, float]:
        self._armed.clear()
        figures = {"peak_rss_mib": max(self.peak, self.rss()) / 2**20}
        if self.device.type == "cuda":
            figures["cuda_max_allocated_mib"] = torch.cuda.max_memory_allocated(self.device) / 2**20
        return figures


def bf16_units(device: torch.device) -> bool:
    """Whether bf16 matrix products run natively here (a CPU with AVX512-BF16 or AMX; a GPU that says so)."""
    from aecli.private_apis import cpu_has_bf16

    return torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_has_bf16()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    with initialize_config_module("aecli.configs", version_base="1.3"):
        return hydra_compose("train", overrides=overrides)


def build(name: str, args: argparse.Namespace, device: torch.device, probe: MemoryProbe):
    """aecli's experiment for config `name`, and how much resident memory building it added."""
    overrides = ["dataset=mnist", f"data.root={args.data_root}", f"trainer.epochs={args.epochs_for(name)}",
                 "trainer.scheduler=none",  # the reference loops keep one rate: the same algorithm on both sides
                 "trainer.progress=false", "tsne.enabled=false", f"trainer.precision={args.precision}", *CONFIGS[name][1],
                 *(QUICK if args.quick else [])]
    cfg = compose(overrides)
    before = probe.rss()
    torch.manual_seed(cfg.seed)
    experiment = build_experiment(cfg, device)
    return cfg, experiment, (probe.rss() - before) / 2**20


def bench_config(name: str, args: argparse.Namespace, device: torch.device, probe: MemoryProbe) -> dict[str, Any]:
    """Both loops on config `name`, one epoch of each in turn."""
    cfg, experiment, ours_resident = build(name, args, device, probe)
    data, likelihood, regularizers, model = experiment.data, experiment.likelihood, experiment.regularizers, experiment.model
    reference_model = copy.deepcopy(model)  # the same initial weights
    before = probe.rss()
    contractive = float(cfg.regularizer.contractive.weight) if "contractive" in cfg.regularizer else None
    reference = ReferenceLoop(reference_model, data.train, data.val, int(cfg.trainer.batch_size), device, contractive, seed=0)
    reference_resident = (probe.rss() - before) / 2**20
    max_batches = 4 if args.quick else None

    ours: list[dict[str, float]] = []
    theirs: list[dict[str, float]] = []
    mark = {"start": 0.0, "cpu": 0.0, "rss": 0}

    def start_ours() -> None:
        sync(device)
        mark["rss"] = probe.arm()
        mark["start"], mark["cpu"] = time.perf_counter(), time.process_time()

    def end_ours() -> None:
        sync(device)
        seconds, cpu = time.perf_counter() - mark["start"], time.process_time() - mark["cpu"]
        memory = probe.disarm()
        ours.append({"seconds": seconds, "cpu_seconds": cpu, "rise_mib": memory["peak_rss_mib"] - mark["rss"] / 2**20, **memory})

    def reference_epoch(epoch: int) -> None:
        end_ours()
        rss = probe.arm()
        start, cpu = time.perf_counter(), time.process_time()
        train_loss, val_loss = reference.epoch(max_batches)
        sync(device)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        memory = probe.disarm()
        theirs.append({"seconds": seconds, "cpu_seconds": cpu, "train_loss": train_loss, "val_loss": val_loss,
                       "rise_mib": memory["peak_rss_mib"] - rss / 2**20, **memory})
        for meter in peaks.values():
            meter.measure()
        log(f"  {name} epoch {epoch}: aecli {ours[-1]['seconds']:.2f}s ({ours[-1]['cpu_seconds']:.2f} CPU s), "
            f"reference {seconds:.2f}s ({cpu:.2f} CPU s), peak " + ", ".join(f"{p} {m.wall[-1]:.0f}" for p, m in peaks.items())
            + " GFLOP/s")
        start_ours()

    if args.quick:  # a few batches: train on a slice of the (already small) training split
        keep = slice(4 * int(cfg.trainer.batch_size))
        train = data.train
        data.train = Split(train.stored[keep], None if train.labels is None else train.labels[keep], None, train.device)
    flops = epoch_flops(cfg, experiment, args)
    peaks = {"fp32": PeakMeter(device)}
    if bf16_units(device):
        peaks["bf16"] = PeakMeter(device, torch.bfloat16)
    for meter in peaks.values():
        meter.measure()
    with tempfile.TemporaryDirectory() as run_dir:
        start_ours()
        result = fit(experiment, Path(run_dir), NullWriter(), GracefulStop(), on_epoch_end=reference_epoch)
        end_ours()  # the last epoch's checkpoints, written after its callback
    last = ours.pop()
    ours[-1]["seconds"] += last["seconds"]
    ours[-1]["cpu_seconds"] += last["cpu_seconds"]

    test = {}
    for side, net in (("aecli", model), ("reference", reference_model)):
        torch.manual_seed(EVAL_SEED)  # a VAE's test loss is a one-sample estimate: same draws for both
        test[side] = evaluate_split(net, likelihood, regularizers, data.test, 4096)["total"]
    num_train = len(data.train) if not args.quick else min(len(data.train), max_batches * int(cfg.trainer.batch_size))

    def side(epochs: list[dict[str, float]], resident: float, test_loss: float) -> dict[str, Any]:
        median = statistics.median(e["seconds"] for e in epochs)
        figures = {
            "epoch_seconds": [round(e["seconds"], 4) for e in epochs],
            "median_epoch_seconds": median,
            # CPU seconds of this process: on a shared machine, closer to what an idle core would take
            "epoch_cpu_seconds": [round(e["cpu_seconds"], 4) for e in epochs],
            "median_epoch_cpu_seconds": statistics.median(e["cpu_seconds"] for e in epochs),
            "epochs_per_second": 1.0 / median,
            "train_samples_per_second": num_train / median,
            "test_loss": test_loss,
            "resident_mib": resident,
            "peak_rise_mib": max(e["rise_mib"] for e in epochs),
            "peak_rss_mib": max(e["peak_rss_mib"] for e in epochs),
        }
        if device.type == "cuda":
            figures["cuda_max_allocated_mib"] = max(e["cuda_max_allocated_mib"] for e in epochs)
        return figures

    report = {
        "config": name,
        "description": CONFIGS[name][0],
        "epochs": len(ours),
        "train_samples": num_train,
        "aecli": side(ours, ours_resident, test["aecli"]),
        "reference": side(theirs, reference_resident, test["reference"]),
        "aecli_final_train_loss": result.train["total"],
    }
    report["flops"], report["peaks"] = flops, {precision: meter.report() for precision, meter in peaks.items()}
    report["precision"] = str(experiment.cfg.trainer.precision)
    report["peak"] = report["peaks"].get(report["precision"], report["peaks"]["fp32"])  # the peak of aecli's precision
    for key, precision in (("aecli", report["precision"]), ("reference", "fp32")):
        report[key]["precision"] = precision
        report[key]["roofline"] = roofline(flops["per_epoch"], report[key]["median_epoch_seconds"],
                                           report[key]["median_epoch_cpu_seconds"], report["peaks"].get(precision, report["peaks"]["fp32"]))
    if name == "vae":  # kept for the t-SNE timings: trained codes, as `aecli train` would draw them
        args.trained_codes = encode_split(model, data.test, 4096).cpu()
    report["speedup"] = report["reference"]["median_epoch_seconds"] / report["aecli"]["median_epoch_seconds"]
    report["speedup_cpu_time"] = report["reference"]["median_epoch_cpu_seconds"] / report["aecli"]["median_epoch_cpu_seconds"]
    report["test_loss_gap"] = report["aecli"]["test_loss"] - report["reference"]["test_loss"]
    return report


def epoch_flops(cfg, experiment, args: argparse.Namespace) -> dict[str, Any]:
    """FLOPs of one epoch of config `cfg`: its training steps (forward + backward, counted on
    one real batch) and its validation pass (forward), each per sample times the samples."""
    data, likelihood, regularizers = experiment.data, experiment.likelihood, experiment.regularizers
    batch = int(cfg.trainer.batch_size)
    x = data.training_batch(data.train.batch(slice(0, batch)))
    train = step_flops(experiment.model, lambda twin: make_step_loss(twin, likelihood, regularizers, cfg.trainer), x) / len(x)
    x_val = data.val.batch(slice(0, min(batch, len(data.val))))
    val = eval_flops(experiment.model, lambda m, v: loss_terms(m, likelihood, regularizers, v, corrupt=False), x_val) / len(x_val)
    num_train = min(len(data.train), 4 * batch) if args.quick else len(data.train)
    per_epoch = train * num_train + val * len(data.val)
    return {"train_per_sample": train, "val_per_sample": val, "per_epoch": per_epoch,
            "how": "torch.utils.flop_counter.FlopCounterMode on one real training step (forward + backward) and one "
                   "validation forward, per sample, times the training and validation samples of an epoch"}


def bench_variants(args: argparse.Namespace, device: torch.device) -> list[dict[str, Any]]:
    """Training steps per second of the fast-path options on the VAE, same batches, interleaved."""
    cfg, experiment, _ = build("vae", args, device, MemoryProbe(device))
    data, likelihood, regularizers = experiment.data, experiment.likelihood, experiment.regularizers
    initial = copy.deepcopy(experiment.model.state_dict())
    batch = int(cfg.trainer.batch_size)
    steps = 5 if args.quick else args.variant_steps
    default_threads = torch.get_num_threads()

    def variant(label: str, precision: str = "fp32", compile_: bool = False, fused: bool = True, threads: int | None = None):
        model = copy.deepcopy(experiment.model)
        model.load_state_dict(initial)
        trainer = copy.deepcopy(cfg.trainer)
        trainer.precision, trainer.compile = precision, compile_
        optimizer = build_optimizer(model, trainer) if fused else torch.optim.Adam(model.parameters(), lr=1e-3)
        step_loss = make_step_loss(model, likelihood, regularizers, trainer)
        return {"label": label, "model": model, "optimizer": optimizer, "step_loss": step_loss,
                "threads": threads or default_threads, "times": [], "cpu": [], "first_step_seconds": None}

    variants = [variant("fp32, eager (the default)"), variant("default torch.optim.Adam (unfused)", fused=False)]
    if default_threads > 1:
        variants.append(variant("fp32, eager, 1 thread", threads=1))
    variants.append(variant("bf16 autocast", precision="bf16"))
    if args.compile:
        variants.append(variant("torch.compile", compile_=True))
    order = torch.randperm(len(data.train), device=data.train.compute_device)

    def run_steps(v: dict[str, Any], offset: int, count: int) -> float:
        torch.set_num_threads(v["threads"])
        v["model"].train()
        sync(device)
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(offset, offset + count):
            index = order[(i * batch) % (len(order) - batch):][:batch]
            terms = v["step_loss"](data.train.batch(index))
            v["optimizer"].zero_grad(set_to_none=True)
            terms["total"].backward()
            v["optimizer"].step()
        sync(device)
        torch.set_num_threads(default_threads)
        v["cpu"].append(time.process_time() - cpu)
        return time.perf_counter() - start

    for v in variants:  # warm-up; for torch.compile this is the compilation
        v["first_step_seconds"] = run_steps(v, 0, 1)
        run_steps(v, 1, 3)
    for v in variants:
        v["cpu"].clear()
    for repeat in range(args.repeats):
        for v in variants:
            v["times"].append(run_steps(v, 4 + repeat * steps, steps) / steps)
    rows = []
    # On the CPU the ratio uses CPU seconds (steadier on a shared machine); on a GPU, wall seconds.
    cost = (lambda v: statistics.median(v["cpu"]) / steps) if device.type == "cpu" else (lambda v: statistics.median(v["times"]))
    for v in variants:
        median = statistics.median(v["times"])
        rows.append({"variant": v["label"], "ms_per_step": 1000 * median, "cpu_ms_per_step": 1000 * statistics.median(v["cpu"]) / steps,
                     "steps_per_second": 1 / median, "vs_default": cost(variants[0]) / cost(v),
                     "first_step_seconds": v["first_step_seconds"]})
        log(f"  {v['label']}: {1000 * median:.1f} ms/step, {rows[-1]['cpu_ms_per_step']:.1f} CPU ms/step")
    return rows


def bench_tsne(sizes: list[int], args: argparse.Namespace, device: torch.device) -> list[dict[str, Any]]:
    """t-SNE seconds for the 20-D codes of n test images with aecli's settings (scikit-learn),
    and openTSNE beside it when installed. The codes are the benchmarked VAE's after training,
    or, when the VAE was not run, an untrained one's (timing depends mostly on n)."""
    from aecli.report.latents import embed_codes

    codes = getattr(args, "trained_codes", None)
    if codes is None:
        _, experiment, _ = build("vae", args, device, MemoryProbe(device))
        codes = encode_split(experiment.model, experiment.data.test, 4096).cpu()
    rows = []
    for n in sizes:
        n = min(n, len(codes))
        start = time.perf_counter()
        embed_codes(codes, "tsne", n, 30.0, 0)
        row = {"points": n, "sklearn_seconds": time.perf_counter() - start}
        opentsne = _opentsne_seconds(codes[:n])
        if opentsne is not None:
            row["opentsne_seconds"] = opentsne
        rows.append(row)
        log(f"  t-SNE of {n} codes: " + ", ".join(f"{k} {v:.1f}" for k, v in row.items() if k != "points"))
    return rows


def _opentsne_seconds(codes: torch.Tensor) -> float | None:
    """openTSNE's seconds for `codes`, or None when openTSNE is not installed (aecli's
    backend check would stop with a UserError)."""
    import importlib.util

    from aecli.report.latents import embed_codes

    if importlib.util.find_spec("openTSNE") is None:
        return None
    start = time.perf_counter()
    embed_codes(codes, "tsne", len(codes), 30.0, 0, backend="opentsne")
    return time.perf_counter() - start


def bench_startup(args: argparse.Namespace) -> dict[str, Any]:
    """Wall seconds of `aecli --help`, and of `aecli train` from launch to the end of its first
    training step (the first redraw of its progress bar), for the default config and the VAE."""
    aecli = Path(sys.executable).with_name("aecli")
    command = [str(aecli)] if aecli.exists() else [sys.executable, "-m", "aecli"]
    env = os.environ | {"PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    helps = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([*command, "--help"], capture_output=True, check=True, env=env)
        helps.append(time.perf_counter() - start)
    probe = "import sys, aecli.cli; aecli.cli.main(['--help']) if False else None; print('torch' in sys.modules, 'hydra' in sys.modules)"
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env).stdout.split()
    report: dict[str, Any] = {"help_seconds": statistics.median(helps), "help_imports_torch": imported[:1] == ["True"]}
    runs = {"default (lines, mlp)": [], "mnist vae": ["dataset=mnist", f"data.root={args.data_root}", *CONFIGS["vae"][1]]}
    for label, overrides in runs.items():
        with tempfile.TemporaryDirectory() as folder:
            report[f"train_first_step_seconds, {label}"] = _first_step(command, overrides, Path(folder), env)
    with tempfile.TemporaryDirectory() as folder:  # the default run, t-SNE plot included
        run = Path(folder) / "run"
        start = time.perf_counter()
        subprocess.run([*command, "train", f"hydra.run.dir={run}"], capture_output=True, check=True, env=env, cwd=folder)
        metrics = json.loads((run / "metrics.json").read_text())
        report["default_train"] = {"wall_seconds": time.perf_counter() - start, "train_seconds": metrics["train_seconds"],
                                   "tsne_seconds": metrics["tsne_seconds"], "total_seconds": metrics["total_seconds"]}
    log(f"  aecli --help {report['help_seconds']:.2f}s; " + ", ".join(f"{k} {v}" for k, v in report.items() if "train" in k))
    return report


def _first_step(command: list[str], overrides: list[str], folder: Path, env: dict[str, str]) -> dict[str, float]:
    """Seconds from launch until the run directory line (everything before training) and until
    the progress bar first shows `epoch 1/`, which it draws right after the first step."""
    full = [*command, "train", *overrides, "trainer.progress=true", "tsne.enabled=false", f"hydra.run.dir={folder / 'run'}"]
    start = time.perf_counter()
    process = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=folder)
    seen, times = b"", {}
    assert process.stdout is not None
    while "first_step" not in times:
        chunk = os.read(process.stdout.fileno(), 65536)
        if not chunk:
            raise RuntimeError(f"aecli train ended before its first step:\n{seen.decode(errors='replace')[-2000:]}")
        seen += chunk
        now = time.perf_counter() - start
        if "before_training" not in times and b"run directory:" in seen:
            times["before_training"] = now
        if re.search(rb"epoch 1/\d+ \[", seen):
            times["first_step"] = now
    process.kill()
    process.wait()
    return times


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    lines = [
        f"# aecli benchmark ({env['device_name']})",
        "",
        f"{env['cpu']}; torch {env['torch']}, {env['threads']} threads; run on {env['date']}; load average before "
        f"{env['load_before']}, after {env['load_after']}; {report['wall_seconds']:.0f} s in all.",
        "" if env["device"] == "cuda" else "Not run on a GPU: CPU figures only.",
        "",
        "Epoch times include the validation pass (and aecli's checkpoints); ratios are reference / aecli, "
        "epochs run in turn in one process. CPU s: this process's CPU time (on a shared machine, "
        "nearer what an idle core takes; meaningless on a GPU). Memory: resident MiB the data and model added when built, "
        "and the largest rise of the resident size during one epoch.",
        "",
    ]
    if report["configs"]:
        cuda = env["device"] == "cuda"
        lines += [
            "| config | epochs | aecli s/epoch | reference s/epoch | speed-up | CPU s/epoch aecli / reference | speed-up in CPU time "
            "| aecli samples/s | reference samples/s "
            "| aecli test loss | reference test loss | aecli MiB (resident + rise) | reference MiB (resident + rise) |"
            + (" CUDA max MiB aecli / ref |" if cuda else ""),
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" + (" ---: |" if cuda else ""),
        ]
        for row in report["configs"]:
            a, r = row["aecli"], row["reference"]
            lines.append(
                f"| {row['description']} | {row['epochs']} | {a['median_epoch_seconds']:.2f} | {r['median_epoch_seconds']:.2f} "
                f"| **{row['speedup']:.2f}x** | {a['median_epoch_cpu_seconds']:.2f} / {r['median_epoch_cpu_seconds']:.2f} "
                f"| **{row['speedup_cpu_time']:.2f}x** | {a['train_samples_per_second']:.0f} | {r['train_samples_per_second']:.0f} "
                f"| {a['test_loss']:.2f} | {r['test_loss']:.2f} | {a['resident_mib']:.0f} + {a['peak_rise_mib']:.0f} "
                f"| {r['resident_mib']:.0f} + {r['peak_rise_mib']:.0f} |"
                + (f" {a['cuda_max_allocated_mib']:.0f} / {r['cuda_max_allocated_mib']:.0f} |" if cuda else "")
            )
        lines.append("")
        lines += roofline_table(report["configs"])
        for row in report["configs"]:
            lines.append(f"- {row['config']}: epoch seconds aecli {row['aecli']['epoch_seconds']}, "
                         f"reference {row['reference']['epoch_seconds']}; CPU seconds aecli {row['aecli']['epoch_cpu_seconds']}, "
                         f"reference {row['reference']['epoch_cpu_seconds']}")
        lines.append("")
    if report.get("variants"):
        lines += ["Fast-path options, VAE training steps (median of interleaved repeats; speed against the default "
                  "in CPU time on the CPU, wall time on a GPU):", "",
                  "| variant | ms/step | CPU ms/step | speed vs default | first step s |", "| --- | ---: | ---: | ---: | ---: |"]
        lines += [f"| {v['variant']} | {v['ms_per_step']:.1f} | {v['cpu_ms_per_step']:.1f} | {v['vs_default']:.2f}x "
                  f"| {v['first_step_seconds']:.1f} |" for v in report["variants"]]
        lines.append("")
    if report.get("tsne"):
        lines += ["t-SNE of test codes (seconds):", "", "| points | scikit-learn | openTSNE |", "| ---: | ---: | ---: |"]
        lines += [f"| {t['points']} | {t['sklearn_seconds']:.1f} | "
                  f"{t['opentsne_seconds']:.1f} |" if "opentsne_seconds" in t else f"| {t['points']} | {t['sklearn_seconds']:.1f} | - |"
                  for t in report["tsne"]]
        lines.append("")
    if report.get("startup"):
        s = report["startup"]
        lines += [f"Start-up: `aecli --help` {s['help_seconds']:.2f} s (imports torch: {s['help_imports_torch']}).", ""]
        for key, value in s.items():
            if key.startswith("train_first_step"):
                lines.append(f"- `aecli train`, {key.split(', ', 1)[1]}: {value['before_training']:.1f} s to the run "
                             f"directory line (imports, config, data, model), {value['first_step']:.1f} s to the end of the first step")
        d = s["default_train"]
        lines.append(f"- default `aecli train` (30 epochs on lines, t-SNE plot): {d['wall_seconds']:.1f} s wall, "
                     f"training {d['train_seconds']:.1f} s, t-SNE {d['tsne_seconds']:.1f} s "
                     f"({100 * d['tsne_seconds'] / d['wall_seconds']:.0f}% of the wall time)")
        lines.append("")
    return "\n".join(lines)


def roofline_table(rows: list[dict[str, Any]]) -> list[str]:
    """The roofline columns: each config's FLOPs per epoch over its median epoch time, against
    the matrix-product peak of the precision each side ran, measured between its epochs."""
    peaks = rows[0]["peaks"]
    lines = [
        "Roofline: FLOPs per epoch (FlopCounterMode on the real model: training forward + backward, validation forward) "
        "over the median epoch time, against the practical peak of the precision each side ran, measured between the "
        f"epochs of the same run ({peaks['fp32']['how']}; bf16 the same in bf16"
        f"{'' if 'bf16' in peaks else ': no bf16 units here'}). CPU-time fraction: the same ratio in GFLOP per CPU second.",
        "",
        "| config | precision | GFLOP/epoch | fp32 peak GFLOP/s | bf16 peak GFLOP/s | aecli GFLOP/s | aecli fraction of peak (its precision) "
        "| aecli fraction (CPU time) | reference GFLOP/s (fp32) | reference fraction |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        a, r = row["aecli"]["roofline"], row["reference"]["roofline"]
        bf16 = f"{row['peaks']['bf16']['gflops']:.0f}" if "bf16" in row["peaks"] else "-"
        lines.append(f"| {row['description']} | {row['precision']} | {a['gflop_per_epoch']:.1f} | {row['peaks']['fp32']['gflops']:.0f} "
                     f"| {bf16} | {a['achieved_gflops']:.0f} | **{a['fraction_of_peak']:.2f}** | {a['fraction_of_peak_cpu_time']:.2f} "
                     f"| {r['achieved_gflops']:.0f} | {r['fraction_of_peak']:.2f} |")
    return [*lines, ""]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=os.environ.get("AECLI_DATA_DIR"), help="folder holding MNIST/raw")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, from {', '.join(CONFIGS)}")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per side for every config but the VAE")
    parser.add_argument("--vae-epochs", type=int, default=10, help="epochs per side for the VAE")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"], help="aecli's side (the reference: fp32)")
    parser.add_argument("--variants", action="store_true", help="time the fast-path options on the VAE")
    parser.add_argument("--compile", action="store_true", help="include torch.compile among the variants (compiles: slow)")
    parser.add_argument("--variant-steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tsne", default="", help="comma-separated numbers of points, e.g. 2000,5000,10000")
    parser.add_argument("--startup", action="store_true", help="time aecli --help and aecli train to its first step")
    parser.add_argument("--quick", action="store_true", help="a few batches of a small subset: checks that everything runs")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"), help="folder for the reports")
    args = parser.parse_args(argv)
    unknown = set(filter(None, args.configs.split(","))) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown config(s) {', '.join(sorted(unknown))}; choose from {', '.join(CONFIGS)}")
    if args.data_root is None:
        parser.error("--data-root is required (the folder holding MNIST/raw), or set AECLI_DATA_DIR")
    args.epochs_for = lambda name: 1 if args.quick else (args.vae_epochs if name == "vae" else args.epochs)
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    started = time.perf_counter()
    load_before = _load()
    probe = MemoryProbe(device)
    report: dict[str, Any] = {"configs": []}
    for name in filter(None, args.configs.split(",")):
        log(f"{name}: {CONFIGS[name][0]}")
        report["configs"].append(bench_config(name, args, device, probe))
    if args.variants:
        log("fast-path variants (VAE)")
        report["variants"] = bench_variants(args, device)
    if args.tsne:
        log("t-SNE")
        report["tsne"] = bench_tsne([int(n) for n in args.tsne.split(",")], args, device)
    if args.startup:
        log("start-up")
        report["startup"] = bench_startup(args)
    report["wall_seconds"] = time.perf_counter() - started
    report["environment"] = {
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {os.cpu_count()} cores",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": cpu_description(),
        "load_before": load_before,
        "load_after": _load(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "quick": args.quick,
        "argv": sys.argv[1:] if argv is None else argv,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"benchmark_{device.type}" + ("_quick" if args.quick else "")
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2, default=float))
    (out / f"{stem}.md").write_text(markdown(report))
    print(markdown(report))
    log(f"wrote {out / stem}.json and .md")
    return report


def _load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
