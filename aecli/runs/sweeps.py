"""Sweeps: the number a train job returns, a failed job's record, and the sweep summary.

`SweepSummary` is a Hydra callback (registered in configs/train.yaml). In a multirun it
- gives each job of a parallel launcher its share of the cores as torch threads
  (`threads_per_job`), so parallel jobs do not fight over them;
- records a job that failed in its own folder: `error.txt` (the one-line error, or the
  traceback of a bug) and `"status": "failed"` plus `"error"` in its metrics.json;
- rewrites `summary.csv` and `summary.md` in the sweep folder after every job and at the end
  (then prints where): one row per job with its overrides and final metrics, best objective first;
- ends a sweep in which any job failed with exit status 1, once every job has finished.

Jobs of a parallel launcher finish in any order, in other processes (or on other machines
sharing the sweep folder), so each summary is rebuilt from the job folders on disk under a
file lock, never from memory.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from aecli.config.glossary import format_number
from aecli.errors import UserError
from aecli.runs.safe_yaml import read_yaml_list
from aecli.runs.store import atomic_write, merge_metrics, read_metrics

# The metrics shown in summary.md when some job has them (summary.csv has every scalar).
SHOWN_METRICS = (
    "val_loss", "test_loss", "test_recon_sse", "recon_sse", "pca_recon_sse", "probe_linear_acc", "probe_knn_acc",
    "pca_angle_deg", "mig", "active_units", "kl", "code_sparsity", "jacobian_fro", "best_epoch", "epochs",
    "total_seconds",
)

# Read by torch (OpenMP, MKL) when it starts: a job's intra-op threads.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def objective_value(objective: DictConfig, metrics: dict[str, Any]) -> float:
    """The run's `objective.metric` from its metrics, as a float."""
    value = metrics.get(objective.metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        scalars = sorted(key for key, item in metrics.items() if _is_number(item))
        hint = " (evaluation metrics need evaluate_after=true)" if "recon_sse" not in metrics else ""
        raise UserError(
            f"objective.metric={objective.metric} is not a number in this run's metrics.json{hint}; "
            f"choose one of {', '.join(scalars)}"
        )
    return float(value)


@dataclass
class JobRecord:
    """One job folder of a sweep as found on disk."""

    name: str  # the folder, relative to the sweep folder
    overrides: list[str]
    status: str  # completed | failed | diverged | stopped | running
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    dataset: str = ""  # jobs are ranked only against jobs on the same dataset (losses in its own units)

    def score(self, metric: str) -> float | None:
        value = self.metrics.get(metric)
        return float(value) if _is_number(value) and math.isfinite(value) else None


def threads_per_job(hydra_cfg: DictConfig) -> int | None:
    """Torch threads for one job of this multirun, or None to leave torch's default: the
    user's `hydra.job.env_set.OMP_NUM_THREADS`, else cores // n_jobs for the joblib launcher
    (n_jobs -1: all cores), else `cpus_per_task` for submitit."""
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return None
    chosen = (hydra_cfg.job.get("env_set") or {}).get("OMP_NUM_THREADS")
    if chosen is not None:
        return max(1, int(chosen))
    launcher = hydra_cfg.launcher
    target = str(launcher.get("_target_", ""))
    if target.endswith("JoblibLauncher"):
        cores = os.cpu_count() or 1
        n_jobs = int(launcher.get("n_jobs") or 1)
        running = n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)  # joblib's meaning of a negative n_jobs
        return max(1, cores // running)
    if "submitit" in target and launcher.get("cpus_per_task"):
        return int(launcher.cpus_per_task)
    return None


class SweepSummary(Callback):
    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        threads = threads_per_job(config.hydra)
        if threads is None:
            return
        for name in THREAD_VARIABLES:  # read when torch starts, in this job's process
            os.environ[name] = str(threads)
        if "torch" in sys.modules:  # a worker process that ran an earlier job
            sys.modules["torch"].set_num_threads(threads)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        from hydra.core.utils import JobStatus

        if config.hydra.mode != RunMode.MULTIRUN:
            return
        if job_return.status == JobStatus.FAILED:
            record_failure(Path(config.hydra.runtime.output_dir), job_error(job_return))
        write_summary(Path(config.hydra.sweep.dir), config.objective.metric, config.objective.direction)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = write_summary(sweep_dir, config.objective.metric, config.objective.direction)
        print(f"sweep summary: {sweep_dir / 'summary.md'}", flush=True)
        failed = [job for job in jobs if job.status not in ("completed", "running")]
        if failed:
            first = failed[0].error or str(failed[0].metrics.get("error", failed[0].status))
            first = first.split(": error: ", 1)[-1]  # the job's own line without its "aecli train: error:"
            print(
                f"aecli {config.hydra.job.name}: error: {len(failed)} of {len(jobs)} jobs failed "
                f"({', '.join(_number(job.name) for job in failed)}; {_number(failed[0].name)}: {first}); "
                f"see error.txt in their folders and {sweep_dir / 'summary.md'}",
                file=sys.stderr,
            )
            sys.exit(1)


def _number(job_name: str) -> str:
    """A job folder's number (folders are named <number>_<what the job overrides>)."""
    return job_name.split("_", 1)[0]


def job_error(job_return: Any) -> BaseException:
    """The exception a failed job raised: Hydra's public `return_value` re-raises it."""
    try:
        job_return.return_value
    except BaseException as error:  # noqa: BLE001 - whatever the job raised is the record
        return error
    raise ValueError("job_error of a job that did not fail")


def record_failure(job_dir: Path, error: BaseException, line: str | None = None) -> None:
    """Write the job's error to `job_dir/error.txt` (`line` for a user error, else the
    traceback) and mark its metrics.json failed (a divergence keeps its own, more precise status)."""
    if line is not None or isinstance(error, UserError):
        text = line or str(error)
    else:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    atomic_write(job_dir / "error.txt", lambda handle: handle.write((text.rstrip() + "\n").encode()))
    try:
        status = read_metrics(job_dir).get("status")
    except UserError:  # a damaged metrics.json: leave it as it is, error.txt says what happened
        return
    update = {"error": text.strip().splitlines()[-1] if text.strip() else type(error).__name__}
    if status in (None, "completed"):
        update["status"] = "failed"
    merge_metrics(job_dir, update)


def collect_jobs(sweep_dir: Path) -> list[JobRecord]:
    """Every job folder under `sweep_dir` (those holding .hydra/overrides.yaml)."""
    jobs = []
    for overrides_path in sorted(sweep_dir.rglob(".hydra/overrides.yaml")):
        job_dir = overrides_path.parent.parent
        try:
            overrides = [str(item) for item in read_yaml_list(overrides_path)]
        except UserError:  # a job still writing it, or a damaged or hostile file
            overrides = []
        try:
            metrics = read_metrics(job_dir)
        except UserError:  # a job still writing it, or a damaged file
            metrics = {}
        error_path = job_dir / "error.txt"
        error = error_path.read_text().strip().splitlines()[-1] if error_path.is_file() else ""
        status = str(metrics.get("status", "failed" if error else "running"))
        jobs.append(JobRecord(str(job_dir.relative_to(sweep_dir)), overrides, status, metrics, error, _dataset(job_dir)))
    return jobs


def _dataset(job_dir: Path) -> str:
    try:
        return str(OmegaConf.select(OmegaConf.load(job_dir / ".hydra" / "config.yaml"), "dataset.name", default="") or "")
    except Exception:  # a job that has not written its config yet, or a damaged one
        return ""


def rank(jobs: list[JobRecord], metric: str, direction: str) -> list[JobRecord]:
    """Completed jobs with a finite objective, best first within each dataset (a loss on MNIST
    and one on lines are in different units, so they are not ranked against each other); then
    every other job, in folder order."""
    sign = -1.0 if direction == "maximize" else 1.0
    scored = [job for job in jobs if job.status == "completed" and job.score(metric) is not None]
    rest = [job for job in jobs if job not in scored]
    by_dataset = sorted(scored, key=lambda job: (job.dataset, sign * job.score(metric)))
    return by_dataset + sorted(rest, key=lambda job: _job_order(job.name))


def rank_labels(jobs: list[JobRecord], metric: str) -> list[str]:
    """Each ranked job's place among the jobs on its dataset (1 = best); '' for unranked jobs."""
    labels, seen = [], {}
    for job in jobs:
        if job.status == "completed" and job.score(metric) is not None:
            seen[job.dataset] = seen.get(job.dataset, 0) + 1
            labels.append(str(seen[job.dataset]))
        else:
            labels.append("")
    return labels


def write_summary(sweep_dir: Path, metric: str, direction: str) -> list[JobRecord]:
    """Rebuild summary.csv and summary.md in `sweep_dir` from its job folders; returns the jobs, ranked."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with _locked(sweep_dir / ".summary.lock"):
        jobs = rank(collect_jobs(sweep_dir), metric, direction)
        csv_text = summary_csv(jobs, metric)
        md_text = summary_markdown(jobs, metric, direction)
        atomic_write(sweep_dir / "summary.csv", lambda handle: handle.write(csv_text.encode()))
        atomic_write(sweep_dir / "summary.md", lambda handle: handle.write(md_text.encode()))
    return jobs


def summary_csv(jobs: list[JobRecord], metric: str) -> str:
    """rank, job, status, the objective, overrides (space-separated), error, then every scalar metric."""
    keys = sorted({key for job in jobs for key, value in job.metrics.items() if _is_number(value) or isinstance(value, str)})
    keys = [key for key in keys if key not in ("status", "error", metric)]  # the objective has its own column
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["rank", "job", "dataset", "status", metric, "overrides", "error", *keys])
    for position, job in zip(rank_labels(jobs, metric), jobs):
        score = job.score(metric)
        writer.writerow([
            position, job.name, job.dataset, job.status, "" if score is None else repr(score), " ".join(job.overrides),
            job.error or job.metrics.get("error", ""), *[_csv_value(job.metrics.get(key)) for key in keys],
        ])
    return buffer.getvalue()


def summary_markdown(jobs: list[JobRecord], metric: str, direction: str) -> str:
    shown = [key for key in SHOWN_METRICS if key != metric and any(_is_number(job.metrics.get(key)) for job in jobs)]
    counts = {status: sum(job.status == status for job in jobs) for status in dict.fromkeys(job.status for job in jobs)}
    lines = [
        "# Sweep summary",
        "",
        f"{len(jobs)} jobs ({', '.join(f'{count} {status}' for status, count in counts.items())}); "
        f"ranked by `{metric}` ({direction}), best first, within each dataset. Every metric of every job: summary.csv.",
        "",
        "| rank | job | dataset | status | " + " | ".join([f"`{metric}`", "overrides", *[f"`{key}`" for key in shown]]) + " |",
        "|" + " --- |" * (6 + len(shown)),
    ]
    for position, job in zip(rank_labels(jobs, metric), jobs):
        score = job.score(metric)
        status = job.status if not job.error else f"{job.status}: {job.error}"
        cells = [position, job.name, job.dataset, _md(status), "" if score is None else format_number(score),
                 _md(" ".join(job.overrides)) or "(none)", *[format_number(job.metrics.get(key)) for key in shown]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _job_order(name: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in Path(name).parts)


class _locked:
    """An exclusive lock on `path` (fcntl where the platform has it, else none)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> None:
        self.handle = open(self.path, "a")
        try:
            import fcntl

            fcntl.flock(self.handle, fcntl.LOCK_EX)
        except ImportError:  # Windows: parallel jobs may then race on the summary
            pass

    def __exit__(self, *exc: Any) -> None:
        self.handle.close()
