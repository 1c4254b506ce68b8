"""Stacked autoencoders: greedy layer-wise pretraining (trainer.pretrain=layerwise), then fine-tuning."""

from __future__ import annotations

import json

import pytest
import torch
from omegaconf import OmegaConf

from aecli.errors import UserError
from aecli.likelihoods.bernoulli import Bernoulli
from aecli.likelihoods.gaussian import Gaussian
from aecli.models import build_model
from aecli.config.keys import TRAIN
from aecli.config.schema import check_values
from aecli.engine.curves import BEST_VAL, curve_tag
from aecli.engine.stacked import PrefixedWriter, build_stages
from conftest import run_cli
from conftest import events

MLP = OmegaConf.create(
    {"name": "mlp", "hidden_dims": [16, 8], "latent_dim": 2, "activation": "relu", "tied_weights": False,
     "code_activation": None, "input_gain": False, "normalize_input": False, "batch_norm": False}
)
STACKED = (
    "dataset.num_samples=300", "model.hidden_dims=[16,8]", "trainer.pretrain=layerwise", "trainer.epochs=2",
    "tsne.enabled=false",
)


def test_stages_are_the_full_networks_own_layers_one_per_encoder_layer():
    model = build_model(MLP, (1, 6, 6), 1)
    stages = build_stages(model, Bernoulli())
    assert [(s.model.sample_shape, s.model.latent_dim) for s in stages] == [((1, 6, 6), 16), ((16,), 8), ((8,), 2)]
    assert isinstance(stages[0].likelihood, Bernoulli)  # the data's likelihood on the data ...
    assert all(isinstance(s.likelihood, Gaussian) for s in stages[1:])  # ... squared error on features
    full = {p.data_ptr() for p in model.parameters()}
    shared = [p.data_ptr() for s in stages for p in s.model.parameters()]
    assert len(shared) == len(full) and set(shared) == full  # every weight in exactly one stage, none copied
    x = torch.rand(5, 1, 6, 6)
    with torch.no_grad():  # stacking the stages' encoders is the full encoder
        h = x
        for stage in stages:
            h = stage.model.encode(h)
        torch.testing.assert_close(h, model.encode(x))


def test_tied_weights_stay_tied_within_each_stage():
    model = build_model(OmegaConf.merge(MLP, {"tied_weights": True}), (10,), 1)
    for stage in build_stages(model, Gaussian(1.0)):
        (encoder_linear,) = [m for m in stage.model.encoder if isinstance(m, torch.nn.Linear)]
        assert stage.model.decoder[0]._source[0] is encoder_linear


@pytest.mark.parametrize(
    "model_cfg, message",
    [
        ({"hidden_dims": []}, "trainer.pretrain=layerwise needs at least one hidden layer"),
        ({"batch_norm": True}, "without the decoder's batch norm of model.batch_norm=true"),
        ({"name": "conv", "channels": [4], "kernel_size": 3, "kernel_sizes": None, "strides": None, "padding": None,
          "batch_norm": False, "hidden_dim": None, "separate_heads": False}, "stacks the layers of model=mlp"),
    ],
)
def test_architectures_that_cannot_be_stacked_are_refused(model_cfg, message):
    shape = (1, 4, 4) if model_cfg.get("name") == "conv" else (10,)
    with pytest.raises(UserError, match=message):
        build_stages(build_model(OmegaConf.merge(MLP, model_cfg), shape, 1), Gaussian(1.0))


@pytest.mark.parametrize(
    "trainer, message",
    [
        ({"pretrain": "greedy"}, "trainer.pretrain=greedy is unknown; choose one of none, layerwise"),
        ({"pretrain": "layerwise", "finetune_epochs": -1}, "trainer.finetune_epochs must be an integer >= 0"),
    ],
)
def test_bad_pretrain_settings(trainer, message):
    with pytest.raises(UserError, match=message):
        check_values(OmegaConf.create({"trainer": trainer}), TRAIN)


def test_a_config_saved_before_the_keys_existed_reads_as_no_pretraining():
    from aecli.runs.config import migrate

    migrated = migrate(OmegaConf.create({"trainer": {"epochs": 3}}))
    assert migrated.trainer.pretrain == "none" and migrated.trainer.finetune_epochs == 0


def test_prefixed_writer_prefixes_scalars_and_passes_the_rest():
    calls = []

    class Recorder:
        def add_scalar(self, tag, value, step):
            calls.append((tag, value, step))

        def flush(self):
            calls.append("flush")

    writer = PrefixedWriter(Recorder(), "pretrain/layer2/")
    writer.add_scalar("train/recon", 1.5, 3)
    writer.flush()
    assert calls == [("pretrain/layer2/train/recon", 1.5, 3), "flush"]


def test_stacked_denoising_run_keeps_each_stage_then_fine_tunes_and_evaluates(trained_run, tmp_path):
    run_dir = trained_run(*STACKED, "trainer.finetune_epochs=3", "regularizer=denoising", copy_to=tmp_path / "run")
    for k in (1, 2, 3):
        for name in ("best.pt", "last.pt"):
            payload = torch.load(run_dir / "pretrain" / f"layer{k}" / "checkpoints" / name, weights_only=True)
            assert payload["config"]["pretrain_stage"] == k and payload["epoch"] <= 2
    final = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert final["epoch"] == 3  # the fine-tuning's epochs

    scalars = set(events(run_dir).Tags()["scalars"])
    for k in (1, 2, 3):
        stage = {f"pretrain/layer{k}/{curve_tag(term, split)}" for term, split in (("recon", "train"), ("total", "train"), ("total", "val"))}
        assert stage <= scalars
    finetuning = {curve_tag("recon", "train"), curve_tag("total", "val"), BEST_VAL, curve_tag("recon_sse", "train")}
    assert finetuning <= scalars  # the fine-tuning, as in any run
    # The fine-tuning's last epoch (3, not trainer.epochs=2 per stage) ends with a reconstruction figure.
    assert [event.step for event in events(run_dir).Images("reconstructions/val")] == [3]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["epochs"] == 3
    assert {f"pretrain_layer{k}_val_loss" for k in (1, 2, 3)} <= set(metrics)
    assert metrics["train_seconds"] >= metrics["pretrain_seconds"] > 0

    run_cli("evaluate", f"run={run_dir}", cwd=tmp_path)
    assert {"recon_sse", "mig", "code_sparsity"} <= set(json.loads((run_dir / "metrics.json").read_text()))
    run_cli("visualize-latents", f"run={run_dir}", "method=scatter", cwd=tmp_path)
    assert (run_dir / "latent_scatter.png").is_file()

    result = run_cli("train", f"resume={run_dir}", f"hydra.run.dir={run_dir}", "trainer.epochs=3", check=False, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "resume of a trainer.pretrain=layerwise run is not supported" in result.stderr
    assert torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 3  # untouched


def test_pretraining_only_unrolls_each_stages_best_weights_into_the_run(trained_run, tmp_path):
    run_dir = trained_run(*STACKED, "trainer.finetune_epochs=0", copy_to=tmp_path / "run")
    full = torch.load(run_dir / "checkpoints" / "best.pt", weights_only=True)
    assert full["epoch"] == 0
    # Encoder Sequential(Flatten, Linear, ReLU, Linear, ReLU, Linear); decoder Sequential(Linear, ReLU, Linear, ReLU, Linear).
    for k, (encoder_key, decoder_key) in enumerate([("encoder.1", "decoder.4"), ("encoder.3", "decoder.2"), ("encoder.5", "decoder.0")], 1):
        stage = torch.load(run_dir / "pretrain" / f"layer{k}" / "checkpoints" / "best.pt", weights_only=True)["model"]
        stage_encoder = "encoder.1" if k == 1 else "encoder.0"
        for part in ("weight", "bias"):
            torch.testing.assert_close(full["model"][f"{encoder_key}.{part}"], stage[f"{stage_encoder}.{part}"])
            torch.testing.assert_close(full["model"][f"{decoder_key}.{part}"], stage[f"decoder.0.{part}"])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 0 and metrics["status"] == "completed" and metrics["test_recon_sse"] > 0


def test_a_vae_cannot_be_stacked():
    from hydra import compose, initialize_config_module

    from aecli.engine.experiment import build_experiment
    from aecli.engine.stacked import check_layerwise

    with initialize_config_module("aecli.configs", version_base="1.3"):
        cfg = compose("train", [*STACKED, "regularizer=vae"])
    experiment = build_experiment(cfg, torch.device("cpu"))
    with pytest.raises(UserError, match="trainer.pretrain=layerwise cannot stack a VAE; drop vae from regularizer"):
        check_layerwise(experiment)


def test_a_layer_specific_penalty_must_apply_to_each_stages_own_units():
    from hydra import compose, initialize_config_module

    from aecli.engine.experiment import build_experiment
    from aecli.engine.stacked import check_layerwise

    with initialize_config_module("aecli.configs", version_base="1.3"):
        cfg = compose("train", [*STACKED, "regularizer=sparse_l1", "regularizer.sparse_l1.layer=1"])
    experiment = build_experiment(cfg, torch.device("cpu"))
    with pytest.raises(UserError, match="set regularizer.sparse_l1.layer=code"):
        check_layerwise(experiment)


def test_a_diverging_stage_names_itself_and_advises_a_fresh_start(tmp_path):
    from hydra import compose, initialize_config_module

    from aecli.engine.experiment import build_experiment
    from aecli.errors import TrainingDiverged
    from aecli.engine.stacked import fit_layerwise

    class Writer:
        def add_scalar(self, *args):
            pass

        def flush(self):
            pass

    with initialize_config_module("aecli.configs", version_base="1.3"):
        cfg = compose("train", [*STACKED, "trainer.lr=1e30", "trainer.progress=false"])
    torch.manual_seed(0)
    experiment = build_experiment(cfg, torch.device("cpu"))
    with pytest.raises(TrainingDiverged, match=r"^pretraining layer1: training diverged: .*; start the run again with a lower trainer.lr") as caught:
        fit_layerwise(experiment, tmp_path, Writer())
    assert "resume" not in str(caught.value)
