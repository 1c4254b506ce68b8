"""Runs found without pasting their folder: `run=latest`, `run=NAME`, `resume=latest` and
`aecli.load_run("latest")`, and `name=` in the run folder's name (aecli/runs/find.py, names.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aecli.api import load_run
from aecli.errors import UserError
from aecli.runs.find import find_run
from conftest import TINY, run_cli

LINES = (*TINY, "tsne.enabled=false")


def fake_run(folder: Path, written: float, finished: bool = True) -> Path:
    """A folder that looks like a run to the finder: its config (written at `written`) and last.pt."""
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text("seed: 0\n")
    if finished:
        (folder / "checkpoints").mkdir()
        (folder / "checkpoints" / "last.pt").write_bytes(b"")
    os.utime(folder / ".hydra" / "config.yaml", (written, written))
    return folder


def copy_run(trained_run, tmp_path: Path, relative: str, written: float) -> Path:
    run = trained_run(*LINES, copy_to=tmp_path / relative)
    os.utime(run / ".hydra" / "config.yaml", (written, written))
    return run


def test_run_latest_and_run_name_pick_the_newest(trained_run, tmp_path, monkeypatch, capsys):
    old = copy_run(trained_run, tmp_path, "outputs/2026-01-02/10-00-00_lines-mlp", 1_000_000)
    new = copy_run(trained_run, tmp_path, "outputs/2026-01-01/09-00-00_lines-mlp", 2_000_000)  # trained (resumed) later
    other = copy_run(trained_run, tmp_path, "outputs/2026-01-01/08-00-00_mine", 1_500_000)
    monkeypatch.chdir(tmp_path)

    assert load_run("latest").path == Path("outputs/2026-01-01/09-00-00_lines-mlp")
    assert capsys.readouterr().out == "run=latest: outputs/2026-01-01/09-00-00_lines-mlp\n"
    assert load_run("lines-mlp").path.resolve() == new.resolve()
    assert load_run("mine").path.resolve() == other.resolve()
    assert load_run(str(old)).path == old  # an existing path is that run
    assert capsys.readouterr().out.splitlines() == ["run=lines-mlp: outputs/2026-01-01/09-00-00_lines-mlp",
                                                    "run=mine: outputs/2026-01-01/08-00-00_mine"]


def test_an_existing_folder_wins_and_only_finished_runs_count(tmp_path):
    outputs = tmp_path / "outputs"
    fake_run(outputs / "2026-01-01" / "09-00-00_lines-mlp", 100)
    fake_run(outputs / "2026-01-01" / "10-00-00_lines-mlp", 300, finished=False)  # ended before its first epoch
    job = fake_run(outputs / "multirun" / "2026-01-01" / "11-00-00" / "1_model.latent_dim=2", 200)
    assert find_run("latest", outputs=outputs) == job  # a sweep's job counts
    assert find_run("lines-mlp", outputs=outputs).name == "09-00-00_lines-mlp"
    assert find_run("model.latent_dim=2", outputs=outputs) == job
    here = tmp_path / "latest"
    here.mkdir()
    assert find_run(here, outputs=outputs) == here


def test_no_run_of_that_name_is_one_line_naming_where_it_looked(tmp_path):
    fake_run(tmp_path / "outputs" / "2026-01-01" / "09-00-00_lines-mlp", 100)
    result = run_cli("evaluate", "run=nosuch", cwd=tmp_path, check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "aecli evaluate: error: run=nosuch: no such folder, and no run named nosuch under outputs/ (" in result.stderr
    assert "names there, newest first: lines-mlp" in result.stderr

    empty = tmp_path / "elsewhere"
    empty.mkdir()
    result = run_cli("train", "resume=latest", cwd=empty, check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "aecli train: error: resume=latest: no such folder, and no finished runs" in result.stderr
    assert list(empty.iterdir()) == []  # nothing written
    with pytest.raises(UserError, match="no run named nosuch"):
        find_run("nosuch", outputs=tmp_path / "outputs")


def test_a_named_run_is_in_its_folder_name_and_resume_latest_continues_it(tmp_path, monkeypatch):
    run_cli("train", *LINES, "trainer.epochs=1", "name=first try", cwd=tmp_path)
    [run] = (tmp_path / "outputs").glob("*/*_first_try")  # made safe for a folder name
    out = run_cli("train", "resume=latest", "trainer.epochs=2", cwd=tmp_path).stdout
    assert f"resume=latest: {run.relative_to(tmp_path)}" in out
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 2
    monkeypatch.chdir(tmp_path)
    assert load_run("first_try").epoch == 2

