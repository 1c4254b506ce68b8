"""Every reader through its dataset option: tiny files written here -> build_dataset -> the
splits a run trains on (given test split kept, seeded splits, subsets, uint8 kept, class
names, standardization), downloads through a file:// mirror."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from conftest import REPO
from test_readers_cifar import fake_batches, write_binary_version
from test_readers_idx_sets import write_idx_set

from aecli.data import build_dataset
from aecli.data.idx_sets import FILE_NAMES, IDX_SETS
from aecli.errors import UserError


def dataset(name: str, root=None, download=False, **overrides):
    cfg = OmegaConf.load(REPO / "configs" / "dataset" / f"{name}.yaml")
    cfg.pop("defaults", None)
    return build_dataset(OmegaConf.merge(cfg, overrides), OmegaConf.create({"root": str(root), "download": download}))


@pytest.mark.parametrize("name, folder", [("fashion_mnist", "FashionMNIST"), ("kmnist", "KMNIST"), ("mnist", "MNIST")])
def test_idx_sets_keep_their_test_split_and_stay_uint8(tmp_path, name, folder):
    arrays = write_idx_set(tmp_path / folder / "raw", num_train=12, num_test=5)
    data = dataset(name, tmp_path, val_size=3, train_size=7, test_size=4)
    assert (len(data.train), len(data.val), len(data.test)) == (7, 3, 4)
    assert data.train.stored.dtype == torch.uint8 and data.train.x.dtype == torch.float32
    expected = torch.from_numpy(arrays["test_images"][:4].astype(np.float32) / 255).unsqueeze(1)
    assert torch.equal(data.test.x, expected)  # the given test split, in order, scaled per batch
    assert data.class_names == IDX_SETS[name].class_names


def test_fashion_mnist_download_through_a_file_mirror(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    write_idx_set(mirror)
    md5s = {key: hashlib.md5((mirror / f"{n}.gz").read_bytes()).hexdigest() for key, n in FILE_NAMES.items()}
    spec = dataclasses.replace(IDX_SETS["fashion_mnist"], md5s=md5s, mirrors=(mirror.as_uri(),))
    monkeypatch.setitem(IDX_SETS, "fashion_mnist", spec)
    data = dataset("fashion_mnist", tmp_path / "root", download=True, val_size=2)
    assert len(data.test) == 5 and (tmp_path / "root" / "FashionMNIST" / "raw").is_dir()
    with pytest.raises(UserError, match="data.download=true"):
        dataset("kmnist", tmp_path / "root", val_size=2)


def test_cifar10_binary_records_in_colour(tmp_path):
    batches = fake_batches(per_batch=4)
    write_binary_version(tmp_path, batches)
    data = dataset("cifar10", tmp_path, val_size=5)
    assert (len(data.train), len(data.val), len(data.test)) == (15, 5, 4)
    assert data.sample_shape == (3, 32, 32) and data.train.stored.dtype == torch.uint8
    test_images, test_labels = batches["test_batch"]
    assert torch.equal(data.test.x, torch.from_numpy(test_images).float() / 255)
    assert data.test.labels.tolist() == test_labels.tolist()
    assert data.class_names[0] == "airplane"


def test_digits_split_is_seeded_and_partitions_the_images():
    first, again, other = dataset("digits"), dataset("digits"), dataset("digits", seed=1)
    assert (len(first.train), len(first.val), len(first.test)) == (1258, 180, 359)
    assert torch.equal(first.test.x, again.test.x) and not torch.equal(first.test.x, other.test.x)
    assert first.class_names == tuple("0123456789") and 0 <= first.value_range()[0] < first.value_range()[1] <= 1


@pytest.mark.parametrize(
    "shape, layout, sample_shape",
    [((30, 5), "auto", (5,)), ((30, 6, 4), "auto", (1, 6, 4)), ((30, 6, 4, 3), "auto", (3, 6, 4)),
     ((30, 3, 6, 5), "auto", (3, 6, 5)), ((30, 3, 4, 3), "nhwc", (3, 3, 4))],
)
def test_array_layouts(tmp_path, shape, layout, sample_shape):
    x = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    np.savez(tmp_path / "a.npz", x=x, y=np.array(["cat", "dog", "emu"] * 10))
    data = dataset("array", path=str(tmp_path / "a.npz"), layout=layout, test_size=2)
    assert data.sample_shape == sample_shape and len(data.test) == 2
    assert data.class_names == ("cat", "dog", "emu")
    assert data.kind == ("image" if len(sample_shape) == 3 else "signal")


def test_array_npy_vectors_standardized_with_train_statistics(tmp_path):
    x = np.random.default_rng(0).normal(50.0, 10.0, (200, 3)).astype(np.float32)
    np.save(tmp_path / "v.npy", x)
    data = dataset("array", path=str(tmp_path / "v.npy"), normalize="standardize")
    assert data.train.labels is None and data.train.stored.dtype == torch.float32
    assert torch.allclose(data.train.x.mean(0), torch.zeros(3), atol=1e-4)
    assert torch.allclose(data.denormalize(data.test.x).mean(0), torch.tensor(50.0), atol=3.0)


def test_image_folder_colour_with_class_subfolders(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("cats", "dogs"):
        (tmp_path / "pics" / name).mkdir(parents=True)
        for i in range(10):
            Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)).save(tmp_path / "pics" / name / f"{i}.png")
    data = dataset("image_folder", path=str(tmp_path / "pics"), image_size=[4, 8])
    assert data.sample_shape == (3, 4, 8) and data.train.stored.dtype == torch.uint8
    assert data.class_names == ("cats", "dogs") and len(data.train) + len(data.val) + len(data.test) == 20


def test_csv_with_text_labels_is_standardized(tmp_path):
    rows = ["height,species,weight"] + [f"{150 + i},{'oak' if i % 2 else 'elm'},{3 * i}" for i in range(40)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    data = dataset("csv", path=str(tmp_path / "t.csv"), label_column="species")
    assert data.sample_shape == (2,) and data.class_names == ("elm", "oak")
    assert data.train.x.mean(0).abs().max() < 1e-4 and data.axis_name == "feature"
    assert torch.allclose(data.denormalize(data.test.x)[:, 1], data.denormalize(data.test.x)[:, 0] * 3 - 450, atol=1e-3)


def test_uint8_split_hands_out_float_batches_and_placement_is_reported():
    from aecli.data.base import Dataset, Split

    stored = torch.arange(2 * 3 * 4, dtype=torch.uint8).reshape(6, 1, 2, 2) * 10
    split = Split(stored, torch.arange(6)).to("cpu", stream=True)
    assert split.batch(torch.tensor([5, 0])).tolist() == (stored[[5, 0]].float() / 255).tolist()
    assert torch.equal(torch.cat(list(split.batches(4))), stored.float() / 255) and split.value_range()[1] == 230 / 255
    data = Dataset("d", split, split, split, kind="image").to("cpu", free_bytes=0)  # the CPU is host memory
    assert not data.train.streamed and data.placement == "uint8 on cpu (0.0 MiB)"


@pytest.mark.parametrize("suffix", [".npy", ".npz"])  # .npy: memory-mapped splits; .npz: copied rows
def test_every_split_knows_the_file_rows_its_samples_came_from(tmp_path, suffix):
    x = np.arange(40 * 3, dtype=np.float32).reshape(40, 3)  # row r holds 3r, 3r+1, 3r+2
    np.save(tmp_path / "a.npy", x) if suffix == ".npy" else np.savez(tmp_path / "a.npz", x=x, y=np.arange(40) % 4)
    extra = {} if suffix == ".npy" else {"exclude_classes": [1]}
    data = dataset("array", path=str(tmp_path / f"a{suffix}"), train_size=20, test_size=3, **extra)
    for split in (data.train, data.val, data.test):
        assert torch.equal(split.x[:, 0], split.source_rows.float() * 3)  # each sample is its row of the file
    rows = torch.cat([data.train.source_rows, data.val.source_rows, data.test.source_rows]).tolist()
    assert len(set(rows)) == len(rows) and len(data.test.source_rows) == 3


def test_a_given_test_split_counts_rows_in_its_own_file(tmp_path):
    write_idx_set(tmp_path / "MNIST" / "raw", num_train=12, num_test=5)
    data = dataset("mnist", tmp_path, val_size=3, test_size=4, binarize="static")
    assert data.test.source_rows.tolist() == [0, 1, 2, 3]
    assert sorted(data.train.source_rows.tolist() + data.val.source_rows.tolist()) == list(range(12))
