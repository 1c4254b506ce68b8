"""Peak anonymous memory of `aecli train` on data larger than it should hold: a uint8 `.npy` of N x
784 (MNIST-sized rows; 1 000 000 rows are 784 MB) with a small MLP for one epoch, and the time
to read an image folder the first and the second time (its decode cache, aecli.data.decode_cache).

    python benchmarks/memory.py array --rows 1000000 --workdir /tmp/aecli-memory
    python benchmarks/memory.py image-folder --images 20000 --workdir /tmp/aecli-memory

Anonymous memory (RssAnon in /proc/PID/status, the process's own heap, not the page cache a
memory map reads through) is sampled every 50 ms over the run and its children; the peak is
printed with the file's size, the CPU named. `--pythonpath DIR` runs another checkout's aecli
(the same measurement on an older revision)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import cpu_description  # noqa: E402


def rss_anon_kib(pid: int) -> int:
    """RssAnon of `pid` and its descendants, KiB (0 for a process that is gone)."""
    total = 0
    for one in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def children(pid: int) -> list[int]:
    try:
        direct = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return [*direct, *(grand for child in direct for grand in children(child))]


def peak_of(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """(peak RssAnon MiB, wall seconds, exit status) of `command`, run in `cwd` (not this checkout,
    whose aecli `python -m` would import ahead of PYTHONPATH)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    while process.poll() is None:
        peak = max(peak, rss_anon_kib(process.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    if process.returncode:
        print(process.stderr.read()[-2000:], file=sys.stderr)
    return peak / 1024, seconds, process.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["array", "image-folder"])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--workdir", default="/tmp/aecli-memory")
    parser.add_argument("--pythonpath", default=None, help="another checkout's aecli, e.g. a git worktree")
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=args.pythonpath) if args.pythonpath else dict(os.environ)
    env["AECLI_CACHE_DIR"] = str(work / "cache")
    aecli = [sys.executable, "-m", "aecli", "train", "trainer.epochs=1", "tsne.enabled=false", "log.num_reconstructions=0",
             "model.hidden_dims=[64]", "model.latent_dim=8", "trainer.batch_size=256", "trainer.progress=false"]
    print(f"# {cpu_description()}; load average {os.getloadavg()[0]:.1f} at the start")
    if args.what == "array":
        path = work / f"rows{args.rows}.npy"
        if not path.exists():
            rng = np.random.default_rng(0)
            mapped = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(args.rows, 784))
            for start in range(0, args.rows, 100_000):
                mapped[start : start + 100_000] = rng.integers(0, 256, size=(min(100_000, args.rows - start), 784), dtype=np.uint8)
            mapped.flush()
            del mapped
        size = path.stat().st_size / 2**20
        peak, seconds, status = peak_of([*aecli, "dataset=array", f"dataset.path={path}", "likelihood=gaussian",
                                         f"hydra.run.dir={work / 'run-array'}-{time.time_ns()}"], env, work)
        print(f"array {args.rows} x 784 uint8 ({size:,.0f} MiB): peak anonymous memory {peak:,.0f} MiB, "
              f"{seconds:.1f} s, exit {status}")
        return
    folder = work / f"images{args.images}"
    if not folder.exists():
        from PIL import Image

        rng = np.random.default_rng(0)
        for i in range(args.images):
            label = folder / f"class{i % 10}"
            label.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, size=(28, 28), dtype=np.uint8)).save(label / f"{i}.png")
    import shutil

    from aecli.data.image_folder import read_image_folder

    os.environ["AECLI_CACHE_DIR"] = str(work / "cache")
    shutil.rmtree(work / "cache", ignore_errors=True)
    for attempt in ("first (decoded, in parallel, and cached)", "second (memory-mapped from the cache)"):
        started = time.perf_counter()
        source = read_image_folder(folder)
        print(f"image folder of {args.images} 28x28 PNGs, {attempt}: {time.perf_counter() - started:.2f} s "
              f"to read {source.x.shape}")


if __name__ == "__main__":
    main()
