"""Checkpoints load with weights_only=True, restore the same model, and fail clearly when foreign."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from aecli.runs.checkpoint import load_checkpoint, save_checkpoint
from aecli.errors import UserError
from aecli.models import build_model


def _model():
    from conftest import REPO

    cfg = OmegaConf.merge(OmegaConf.load(REPO / "configs" / "model" / "mlp.yaml"), {"hidden_dims": [16]})
    return cfg, build_model(cfg, (10,))


def test_round_trip_with_weights_only(tmp_path):
    torch.manual_seed(0)
    cfg, model = _model()
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 10)).output.sum().backward()
    optimizer.step()
    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint(path, model=model, optimizer=optimizer, epoch=3, config={"model": OmegaConf.to_container(cfg)}, metrics={"val_loss": 1.5})
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temporary file left behind

    raw = torch.load(path, weights_only=True)
    assert raw["epoch"] == 3 and raw["metrics"] == {"val_loss": 1.5}
    payload = load_checkpoint(path)
    _, restored = _model()
    restored.load_state_dict(payload["model"])
    x = torch.randn(5, 10)
    assert torch.equal(restored(x).output, model(x).output)
    fresh = torch.optim.Adam(restored.parameters())
    fresh.load_state_dict(payload["optimizer"])
    assert fresh.state_dict()["state"][0]["step"] == 1


def test_missing_foreign_and_truncated_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(UserError, match="not an aecli checkpoint"):
        load_checkpoint(foreign)
    _, model = _model()
    good = tmp_path / "good.pt"
    save_checkpoint(good, model=model, optimizer=None, epoch=1, config={}, metrics={})
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(UserError, match="not a readable checkpoint"):
        load_checkpoint(truncated)
