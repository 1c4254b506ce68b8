"""A run folder is data, never code: a `_target_` planted anywhere in a run's saved config or in its
checkpoints is refused, in one line naming the key and the opt-in, by every command that reads a
run back and by `aecli.load_run`, with nothing imported; `trust_code=true` opts in."""

from __future__ import annotations

import sys

import pytest
import torch
import yaml

from aecli.errors import UserError
from conftest import TINY, run_cli

EVIL = '''
from pathlib import Path
Path(__file__).with_name("imported.marker").write_text("evilmod was imported")

def build(*args, **kwargs):
    Path(__file__).with_name("called.marker").write_text("evilmod.build was called")
    raise SystemExit("evilmod.build ran")
'''

# Where a crafted folder plants the code: every config group, and deeper in a node.
PLANTS = {
    "model": ("model",), "likelihood": ("likelihood",), "dataset": ("dataset",),
    "regularizer": ("regularizer", "denoising"), "nested": ("trainer", "schedule_hook"),
}


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("trust")
    run_cli("train", *TINY, "regularizer=denoising", "tsne.enabled=false", f"hydra.run.dir={base / 'run'}", cwd=base)
    return base / "run"


def craft(clean_run, folder, where: tuple[str, ...], in_config: bool = True, in_checkpoints: bool = True):
    """A copy of the clean run with `_target_: evilmod.build` planted at `where`, and evilmod.py
    importable (on sys.path, as a file beside the folder would be with `python -m`)."""
    import shutil

    run = folder / "run"
    shutil.copytree(clean_run, run)
    (folder / "evilmod.py").write_text(EVIL)
    if in_config:
        config = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
        _plant(config, where)
        (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    if in_checkpoints:
        for name in ("best.pt", "last.pt"):
            payload = torch.load(run / "checkpoints" / name, weights_only=True)
            _plant(payload["config"], where)
            torch.save(payload, run / "checkpoints" / name)
    return run


def _plant(config: dict, where: tuple[str, ...]) -> None:
    node = config
    for key in where:
        node = node.setdefault(key, {})
    node["_target_"] = "evilmod.build"


COMMANDS = {
    "evaluate": lambda run, out: ("evaluate", f"run={run}"),
    "visualize-latents": lambda run, out: ("visualize-latents", f"run={run}", "method=pca"),
    "encode": lambda run, out: ("encode", f"run={run}", "split=test", f"output={out / 'codes.npy'}"),
    "finetune": lambda run, out: ("finetune", f"run={run}", "labels=10"),
    "resume": lambda run, out: ("train", f"resume={run}", "trainer.epochs=3"),
}


@pytest.mark.parametrize("where", PLANTS.values(), ids=PLANTS.keys())
@pytest.mark.parametrize("command", COMMANDS)
def test_a_crafted_run_folder_is_refused_by_every_command_with_nothing_imported(clean_run, tmp_path, monkeypatch, command, where):
    run = craft(clean_run, tmp_path, where)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = run_cli(*COMMANDS[command](run, tmp_path), cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stderr
    key = ".".join([*where, "_target_"])
    assert f"{key}=evilmod.build" in result.stderr and "trust_code=true" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "imported.marker").exists() and "evilmod" not in sys.modules


@pytest.mark.parametrize("where", PLANTS.values(), ids=PLANTS.keys())
def test_load_run_refuses_a_crafted_folder_and_imports_nothing(clean_run, tmp_path, monkeypatch, where):
    import aecli

    run = craft(clean_run, tmp_path, where)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UserError, match=r"names code to import at .*_target_=evilmod.build.*load_run\(path, trust_code=True\)"):
        aecli.load_run(run)
    assert not (tmp_path / "imported.marker").exists() and "evilmod" not in sys.modules


def test_code_planted_only_in_the_checkpoints_is_refused_too(clean_run, tmp_path, monkeypatch):
    import aecli

    run = craft(clean_run, tmp_path, ("model",), in_config=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UserError, match=r"the config inside .*best.pt names code to import at model._target_"):
        aecli.load_run(run)
    assert "evilmod" not in sys.modules


def test_the_opt_in_imports_the_named_code(clean_run, tmp_path, monkeypatch):
    """trust_code=true is what it says: the named code runs (here it stops the command itself)."""
    run = craft(clean_run, tmp_path, ("model",))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "evilmod", raising=False)
    run_cli("evaluate", f"run={run}", "trust_code=true", cwd=tmp_path, check=False)
    assert (tmp_path / "imported.marker").exists() and (tmp_path / "called.marker").exists()
    sys.modules.pop("evilmod", None)


def test_aecli_adds_no_folder_to_pythons_path(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    from aecli.models import MODELS

    (tmp_path / "beside.py").write_text("def build(*args):\n    raise SystemExit('imported from the current folder')\n")
    monkeypatch.setattr(sys, "path", [entry for entry in sys.path if entry not in ("", ".")])  # as the aecli script runs
    before = list(sys.path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="cannot import beside .*PYTHONPATH"):
        MODELS.build(OmegaConf.create({"_target_": "beside.build", "latent_dim": 2}), (4,), 1, None)
    assert sys.path == before
