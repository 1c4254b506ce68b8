"""Default run folders say what ran (aecli/runs/names.py, configs/train.yaml)."""

from __future__ import annotations

import re

from hydra import compose, initialize_config_module

from aecli.runs.names import job_name, register_resolvers, safe_name
from conftest import run_cli


def run_dir(*overrides: str) -> str:
    register_resolvers()
    with initialize_config_module("aecli.configs", version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=True).hydra.run.dir


def test_a_run_folder_is_named_by_its_dataset_model_and_regularizers():
    assert re.fullmatch(r"outputs/\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d_lines-mlp", run_dir())
    assert run_dir("dataset=mnist", "model=conv", "regularizer=[denoising,sparse_kl]").endswith("_mnist-conv-denoising+sparse_kl")
    assert run_dir("regularizer=vae", "model=linear").endswith("_lines-linear-vae")


def test_a_run_is_named_by_name_or_by_its_own_data():
    assert run_dir("name=shapes small").endswith("_shapes_small")  # one safe folder name
    assert run_dir("dataset=image_folder", "dataset.path=/data/shapes/", "model=conv").endswith("_shapes-conv")
    assert run_dir("dataset=csv", "dataset.path=tables/wine.csv", "regularizer=vae").endswith("_wine-mlp-vae")
    assert run_dir("dataset=array", "dataset.path=codes.npz", "name=mine").endswith("_mine")


def test_a_job_folder_name_is_one_safe_folder():
    assert job_name("model.latent_dim=2,trainer.lr=0.01") == "model.latent_dim=2,trainer.lr=0.01"
    assert "/" not in job_name("dataset.path=/data/x.npy,regularizer=[denoising,l2]")
    assert len(safe_name("k=" + "v" * 500)) <= 120
    assert job_name("") == "defaults"


def test_sweep_jobs_are_named_by_what_they_override(tmp_path):
    run_cli("train", "-m", "model.latent_dim=2,3", "trainer.epochs=1", "dataset.num_samples=60", "tsne.enabled=false",
            "data.root=/somewhere/else", cwd=tmp_path)
    jobs = sorted(p.name for p in (tmp_path / "outputs" / "multirun").glob("*/*/*") if p.is_dir())
    assert jobs == [
        "0_dataset.num_samples=60,model.latent_dim=2,trainer.epochs=1,tsne.enabled=False",
        "1_dataset.num_samples=60,model.latent_dim=3,trainer.epochs=1,tsne.enabled=False",
    ]
