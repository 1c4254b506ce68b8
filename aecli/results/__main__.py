"""Run the ready-made experiments and write RESULTS.md from their metrics.json files.

    python -m aecli.results --data-root DATA [--seeds 0,1,2] [--jobs N] [--threads T] [--out RESULTS.md] [NAME ...]

Each experiment is the real command, `aecli train +experiment=NAME seed=S data.root=DATA
hydra.run.dir=RUNS/NAME/seedS` (which ends with `aecli evaluate`), run once per seed as a
subprocess with T torch threads, N at a time. What each row claims, its anchor figure, the
targets every seed must meet and which figures it reports come from the `claim:` block of
configs/experiment/NAME.yaml (a `long: true` one, days on a few cores, runs only when named). The page is rewritten after every run that ends, so an
interrupted run still leaves a true page: a run that has not finished says so. A run folder
that already holds a completed run of the experiment as it stands (its recorded config hashes
match) is read, not trained again; any other is moved to RUNS/NAME/stale/ and made again.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from aecli.results.entries import Entry, load_entries
from aecli.results.page import _duration, _load, write_page
from aecli.results.runner import Outcome, run_entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aecli.results", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="experiments to run (default: all)")
    parser.add_argument("--data-root", default=os.environ.get("AECLI_DATA_DIR"), help="folder holding MNIST/raw (data.root)")
    parser.add_argument("--runs-dir", default="results", help="where the run folders go (default: results/)")
    parser.add_argument("--out", default="RESULTS.md", help="the page to write (default: RESULTS.md)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds, one run each (default 0,1,2)")
    parser.add_argument("--jobs", type=int, default=1, help="experiments run at once (default 1)")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 1)), help="torch threads per experiment")
    args = parser.parse_args(argv)

    experiments = load_entries()
    known = {entry.label for entry in experiments}
    unknown = [name for name in args.names if name not in known]
    if unknown:
        print(f"aecli.results: error: unknown experiment {unknown[0]!r}; choose from {', '.join(sorted(known))}", file=sys.stderr)
        return 2
    # A long experiment (days on a few cores) runs when named; otherwise its row says how to run it.
    entries = [entry for entry in experiments if entry.label in args.names or (not args.names and not entry.long)]
    shown = [entry for entry in experiments if entry in entries or (not args.names and entry.long)]
    try:
        seeds = [int(seed) for seed in args.seeds.split(",")]
    except ValueError:
        print(f"aecli.results: error: --seeds must be comma-separated integers, got {args.seeds!r}", file=sys.stderr)
        return 2
    command = "python -m aecli.results " + " ".join(shlex.quote(arg) for arg in (argv if argv is not None else sys.argv[1:]))
    runs_dir, out = Path(args.runs_dir), Path(args.out)
    started = datetime.now(timezone.utc)
    loads = [f"{_load()} at the start"]
    outcomes: dict[tuple[str, int], Outcome] = {}
    lock = threading.Lock()

    def one(job: tuple[Entry, int]) -> None:
        entry, seed = job
        with lock:
            outcomes[entry.label, seed] = Outcome("running")
        print(f"{entry.label} seed {seed}: running", flush=True)
        outcome = run_entry(entry, seed, runs_dir, out.parent / "figures", args.data_root, args.threads)
        with lock:
            outcomes[entry.label, seed] = outcome
            write_page(out, shown, outcomes, seeds, command, started, [*loads, f"{_load()} after {entry.label} seed {seed}"])
        print(f"{entry.label} seed {seed}: {outcome.status} in {_duration(outcome.seconds)} {outcome.note}", flush=True)

    write_page(out, shown, outcomes, seeds, command, started, loads)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(one, [(entry, seed) for entry in entries for seed in seeds]))
    loads.append(f"{_load()} at the end")
    write_page(out, shown, outcomes, seeds, command, started, loads)
    failed = [f"{label} seed {seed}" for (label, seed), outcome in outcomes.items() if outcome.status != "completed"]
    print(f"wrote {out}; " + (f"failed: {', '.join(failed)}" if failed else "all runs completed"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
