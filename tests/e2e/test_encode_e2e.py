"""A tiny run on a colour PNG folder with class subfolders, trained in-process once: colour
pictures and class names in its outputs, `aecli encode` in every format, and the Python API
(`aecli.load_run`) round trip; a tiny VAE for `sample`."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import events, run_cli

import aecli

CLASSES = ("circle", "square")


def write_pictures(folder, per_class=12, size=8):
    """Red discs and blue squares on black, slightly shifted: two classes a model can tell apart."""
    for index, name in enumerate(CLASSES):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            image = np.zeros((size, size, 3), dtype=np.uint8)
            yy, xx = np.mgrid[:size, :size]
            centre = 3.5 + (i % 3) - 1
            shape = ((yy - centre) ** 2 + (xx - 3.5) ** 2 < 7) if index == 0 else (abs(yy - centre) < 2.5) & (abs(xx - 3.5) < 2.5)
            image[shape, 2 * index] = 200 + i
            Image.fromarray(image).save(folder / name / f"{i}.png")


@pytest.fixture(scope="module")
def colour_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("colour")
    write_pictures(base / "pics")
    result = run_cli(
        "train", "dataset=image_folder", f"dataset.path={base / 'pics'}", "trainer.epochs=2", "tsne.num_points=10",
        "tsne.perplexity=3", "model.latent_dim=3", "trainer.num_threads=1", f"hydra.run.dir={base / 'run'}", cwd=base,
    )
    return base, result


def test_colour_pictures_and_class_names_in_the_run(colour_run):
    base, result = colour_run
    assert "samples uint8 on cpu" in result.stderr + result.stdout
    image = events(base / "run").Images("reconstructions/test")[-1]
    picture = np.asarray(Image.open(__import__("io").BytesIO(image.encoded_image_string)))
    assert picture.ndim == 3 and picture.shape[2] >= 3 and not np.array_equal(picture[..., 0], picture[..., 2])
    metadata = next((base / "run" / "tensorboard").rglob("metadata.tsv")).read_text().split()
    assert set(metadata) <= set(CLASSES) and metadata


@pytest.mark.parametrize("suffix", [".npz", ".csv", ".npy"])
def test_encode_the_runs_test_split(colour_run, tmp_path, suffix):
    base, _ = colour_run
    output = tmp_path / f"codes{suffix}"
    printed = run_cli("encode", f"run={base / 'run'}", "split=test", f"output={output}").stdout
    if suffix == ".npz":
        assert f"3-D codes with labels, file paths: {output}" in printed
        saved = np.load(output)
        assert saved["codes"].shape[1] == 3 and set(saved["labels"]) <= set(CLASSES)
        # each code's file, relative to the run's dataset.path, and of the class its label says
        assert len(saved["paths"]) == len(saved["codes"]) and all((base / "pics" / p).is_file() for p in saved["paths"])
        assert [p.split("/")[0] for p in saved["paths"]] == list(saved["labels"])
        run = aecli.load_run(base / "run", device="cpu")
        pixels = np.stack([np.asarray(Image.open(base / "pics" / p)) for p in saved["paths"]])
        np.testing.assert_allclose(saved["codes"], run.encode(pixels), rtol=1e-4, atol=1e-5)
    elif suffix == ".csv":
        rows = list(csv.reader(output.open()))
        assert rows[0] == ["z0", "z1", "z2", "label", "path"] and rows[1][3] in CLASSES
        assert rows[1][4].startswith(rows[1][3] + "/")
    else:  # codes only, and the line says so instead of claiming labels
        assert np.load(output).shape[1] == 3
        assert (f"3-D codes: {output} holds the codes only (not the labels, file paths: "
                f"output={output.with_suffix('.npz')} keeps them beside the codes)") in printed


def test_encode_new_images_matches_the_api(colour_run, tmp_path):
    base, _ = colour_run
    run_cli("encode", f"run={base / 'run'}", f"input={base / 'pics'}", f"output={tmp_path / 'c.npz'}")
    saved = np.load(tmp_path / "c.npz")
    pixels = np.stack([np.asarray(Image.open(p)) for name in CLASSES for p in sorted((base / "pics" / name).glob("*.png"))])
    run = aecli.load_run(base / "run", device="cpu")
    np.testing.assert_allclose(saved["codes"], run.encode(pixels), rtol=1e-5, atol=1e-5)  # uint8 channels-last accepted
    assert list(saved["labels"]) == [name for name in CLASSES for _ in range(12)]
    assert list(saved["paths"]) == [f"{name}/{i}.png" for name in CLASSES for i in sorted(range(12), key=str)]


def test_api_round_trip_in_the_datas_own_shape_and_scale(colour_run):
    base, _ = colour_run
    run = aecli.load_run(base / "run", checkpoint="last", device="cpu")
    pixels = run.experiment.data.test.stored  # uint8 (N, 3, 8, 8)
    codes = run.encode(pixels.numpy())
    np.testing.assert_allclose(codes, run.encode(pixels.float() / 255).numpy(), atol=1e-6)
    tensor_codes = run.encode(pixels)
    assert isinstance(tensor_codes, torch.Tensor) and tensor_codes.shape == (len(pixels), run.model.latent_dim)
    again = run.reconstruct(pixels.numpy())
    assert again.shape == tuple(pixels.shape) and 0 <= again.min() and again.max() <= 1
    np.testing.assert_allclose(run.decode(codes), again, atol=1e-5)
    assert run.config.dataset.name == "image_folder"
    with pytest.raises(aecli.errors.UserError, match="regularizer=vae"):
        run.sample(4)
    with pytest.raises(aecli.errors.UserError, match=r"shape \(3, 8, 8\)"):
        run.encode(np.zeros((2, 3, 9, 9), dtype=np.uint8))


def test_vae_samples_and_csv_in_raw_units(tmp_path):
    rows = ["a,b,kind"] + [f"{100 + i},{-3 * i},{'x' if i % 2 else 'y'}" for i in range(60)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    run_cli("train", "dataset=csv", f"dataset.path={tmp_path / 't.csv'}", "dataset.label_column=kind", "regularizer=vae",
            "model.latent_dim=2", "trainer.epochs=2", "tsne.enabled=false", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    run = aecli.load_run(tmp_path / "run")
    samples = run.sample(5, seed=0)
    assert samples.shape == (5, 2) and np.array_equal(samples, run.sample(5, seed=0))
    assert 60 < samples[:, 0].mean() < 200  # decoded in the table's own units, not standardized
    run_cli("encode", f"run={tmp_path / 'run'}", f"input={tmp_path / 't.csv'}", "label_column=kind", f"output={tmp_path / 'c.csv'}")
    assert list(csv.reader((tmp_path / "c.csv").open()))[1][2] in ("x", "y")
    printed = run_cli("encode", f"run={tmp_path / 'run'}", "split=test", f"output={tmp_path / 'c.npz'}").stdout
    assert "with labels, row numbers" in printed
    saved = np.load(tmp_path / "c.npz")
    kinds = ["x" if i % 2 else "y" for i in range(60)]  # the table's own rows, from 0 after the header
    assert list(saved["labels"]) == [kinds[r] for r in saved["rows"]] and len(set(saved["rows"])) == len(saved["rows"])
