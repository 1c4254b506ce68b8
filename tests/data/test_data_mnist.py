"""MNIST from IDX files: the reader, the torchvision layout, download with md5, variance-MNIST."""

from __future__ import annotations

import dataclasses
import gzip
import re
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from conftest import idx_bytes, write_fake_mnist
import torch
from omegaconf import OmegaConf

from aecli.data import build_dataset
from aecli.data.idx_sets import FILE_NAMES, IDX_SETS
from aecli.data.idx import parse_idx, read_idx
from aecli.data.variance_mnist import VarianceMNIST
from aecli.errors import UserError


def mnist_cfg(name: str = "mnist", **overrides):
    from conftest import REPO

    return OmegaConf.merge(OmegaConf.load(REPO / "configs" / "dataset" / f"{name}.yaml"), overrides)


def data_cfg(root, download=False):
    return OmegaConf.create({"root": str(root), "download": download})


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_round_trip(tmp_path, gz):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    path.write_bytes(gzip.compress(idx_bytes(array)) if gz else idx_bytes(array))
    np.testing.assert_array_equal(read_idx(path), array)


def test_parse_idx_reads_big_endian_types():
    values = np.array([1, -2, 300], dtype=">i4")
    raw = struct.pack(">BBBB", 0, 0, 0x0C, 1) + struct.pack(">I", 3) + values.tobytes()
    np.testing.assert_array_equal(parse_idx(raw), [1, -2, 300])


@pytest.mark.parametrize(
    "mangle, reason",
    [
        (lambda b: b"\x01" + b[1:], "wrong magic"),
        (lambda b: b[:-5], "truncated"),
        (lambda b: b[:6], "truncated header"),
        (lambda b: b[:2] + b"\x42" + b[3:], "unknown type"),
    ],
)
def test_corrupted_idx_is_a_user_error(tmp_path, mangle, reason):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(mangle(idx_bytes(np.arange(10))))
    with pytest.raises(UserError, match=reason):
        read_idx(path)


def test_damaged_gzip_is_a_user_error(tmp_path):
    path = tmp_path / "bad-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(10)))[:-8])
    with pytest.raises(UserError, match="cannot read"):
        read_idx(path)


@pytest.mark.parametrize("gz", [True, False])
def test_load_fake_mnist_without_writing_beside_it(tmp_path, gz):
    raw_dir = tmp_path / "MNIST" / "raw"
    arrays = write_fake_mnist(raw_dir, gz=gz)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    data = build_dataset(mnist_cfg(val_size=10), data_cfg(tmp_path))
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert (len(data.train), len(data.val), len(data.test)) == (50, 10, 20)
    assert data.sample_shape == (1, 28, 28) and data.kind == "image"
    assert data.train.x.dtype == torch.float32
    assert 0.0 <= data.train.x.min() and data.train.x.max() <= 1.0
    expected = torch.from_numpy(arrays["t10k-images-idx3-ubyte"].astype(np.float32) / 255).unsqueeze(1)
    assert torch.allclose(data.test.x, expected)
    assert data.test.labels.tolist() == (np.arange(20) % 10).tolist()
    # train and val partition the 60 training images
    seen = torch.cat([data.train.x, data.val.x]).flatten(1)
    assert len(torch.unique(seen, dim=0)) == 60


def test_subset_sizes(tmp_path):
    write_fake_mnist(tmp_path / "MNIST" / "raw")
    data = build_dataset(mnist_cfg(val_size=10, train_size=7, test_size=5), data_cfg(tmp_path))
    assert (len(data.train), len(data.val), len(data.test)) == (7, 10, 5)


def test_missing_files_offline_name_the_folder_and_the_fix(tmp_path):
    with pytest.raises(UserError) as error:
        build_dataset(mnist_cfg(), data_cfg(tmp_path))
    message = str(error.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "data.download=true" in message
    assert not (tmp_path / "MNIST").exists()


@pytest.fixture
def local_mirror(tmp_path, monkeypatch):
    """A file:// mirror serving fake MNIST files, with their md5 sums as the expected ones."""
    mirror = tmp_path / "mirror"
    write_fake_mnist(mirror)
    md5s = {key: hashlib.md5((mirror / f"{name}.gz").read_bytes()).hexdigest() for key, name in FILE_NAMES.items()}
    mirrors = ((tmp_path / "dead").as_uri() + "/", mirror.as_uri() + "/")
    monkeypatch.setitem(IDX_SETS, "mnist", dataclasses.replace(IDX_SETS["mnist"], md5s=md5s, mirrors=mirrors))
    return mirror


def test_download_fetches_missing_files_with_md5_check(tmp_path, local_mirror):
    root = tmp_path / "root"
    data = build_dataset(mnist_cfg(val_size=10), data_cfg(root, download=True))
    assert len(data.test) == 20
    assert sorted(p.name for p in (root / "MNIST" / "raw").iterdir()) == sorted(f"{name}.gz" for name in FILE_NAMES.values())


def test_download_rejects_a_wrong_md5(tmp_path, local_mirror, monkeypatch):
    spec = IDX_SETS["mnist"]
    monkeypatch.setitem(IDX_SETS, "mnist", dataclasses.replace(spec, md5s={**spec.md5s, "train_images": "0" * 32}))
    root = tmp_path / "root"
    with pytest.raises(UserError, match="does not match"):
        build_dataset(mnist_cfg(val_size=10), data_cfg(root, download=True))
    assert not [p for p in (root / "MNIST" / "raw").iterdir() if p.name.startswith("train-images")]


def test_variance_mnist_statistics_mean_zero_std_equals_intensity():
    intensities = torch.linspace(0, 1, 784).reshape(1, 1, 28, 28)
    data = VarianceMNIST("variance_mnist", *[None] * 3, kind="image")
    torch.manual_seed(0)
    draws = data.training_batch(intensities.expand(20000, 1, 28, 28))
    assert draws.mean(0).abs().max() < 0.03
    assert torch.allclose(draws.std(0), intensities[0], atol=0.025)
    assert not torch.equal(data.training_batch(intensities), data.training_batch(intensities))


def test_variance_mnist_eval_noise_is_fixed_by_seed(tmp_path):
    write_fake_mnist(tmp_path / "MNIST" / "raw")
    first = build_dataset(mnist_cfg("variance_mnist", val_size=10), data_cfg(tmp_path))
    second = build_dataset(mnist_cfg("variance_mnist", val_size=10), data_cfg(tmp_path))
    other = build_dataset(mnist_cfg("variance_mnist", val_size=10, seed=1), data_cfg(tmp_path))
    assert torch.equal(first.test.x, second.test.x) and torch.equal(first.val.x, second.val.x)
    assert not torch.equal(first.test.x, other.test.x)
    clean = build_dataset(mnist_cfg(val_size=10), data_cfg(tmp_path))
    assert torch.equal(first.train.x, clean.train.x)  # noise is drawn per training batch instead
    assert first.test.x.min() < 0 < first.test.x.max()


def test_real_mnist_label_counts(mnist_root):
    data = build_dataset(mnist_cfg(), data_cfg(mnist_root))
    assert torch.bincount(data.test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    train_counts = torch.bincount(torch.cat([data.train.labels, data.val.labels])).tolist()
    assert train_counts == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert (len(data.train), len(data.val)) == (55000, 5000)


# dataset.exclude_classes: one place (build_dataset) for every labelled dataset.


@pytest.mark.parametrize("name", ["mnist", "variance_mnist"])
def test_excluded_classes_leave_train_and_val_but_stay_in_test(tmp_path, name):
    write_fake_mnist(tmp_path / "MNIST" / "raw")
    full = build_dataset(mnist_cfg(name, val_size=10), data_cfg(tmp_path))
    data = build_dataset(mnist_cfg(name, val_size=10, exclude_classes=[3, 7]), data_cfg(tmp_path))
    assert type(data) is type(full) and data.excluded_classes == (3, 7)  # variance-MNIST keeps its noisy batches
    for split in ("train", "val"):
        labels = getattr(full, split).labels
        kept = (labels != 3) & (labels != 7)
        assert getattr(data, split).labels.tolist() == labels[kept].tolist()
        assert torch.equal(getattr(data, split).x, getattr(full, split).x[kept])
    assert torch.equal(data.test.labels, full.test.labels) and full.excluded_classes == ()


@pytest.mark.parametrize(
    "classes, message",
    [
        ([12], "dataset.exclude_classes names class 12, which mnist does not have; choose among 0, 1, 2"),
        (list(range(10)), "leaves no training or validation samples; keep at least one class"),
        ([-1], "dataset.exclude_classes must be a list of class indices (integers >= 0)"),
    ],
)
def test_excluding_classes_the_data_cannot_spare_is_one_line(tmp_path, classes, message):
    write_fake_mnist(tmp_path / "MNIST" / "raw")
    with pytest.raises(UserError, match=re.escape(message)):
        build_dataset(mnist_cfg(val_size=10, exclude_classes=classes), data_cfg(tmp_path))


def test_excluding_classes_of_unlabelled_data_is_refused():
    from conftest import REPO

    cfg = OmegaConf.merge(OmegaConf.load(REPO / "configs" / "dataset" / "lines.yaml"), {"num_samples": 50, "exclude_classes": [1]})
    with pytest.raises(UserError, match=re.escape("dataset.exclude_classes=[1] needs labelled data, but lines has no labels")):
        build_dataset(cfg, data_cfg(None))


def test_an_old_mnist_run_config_gets_no_excluded_classes():
    from aecli.runs.config import migrate

    old = OmegaConf.create({"dataset": {"name": "mnist", "val_size": 10}, "model": {"name": "linear"}})
    assert migrate(old).dataset.exclude_classes == [] and "exclude_classes" not in migrate(OmegaConf.create({"dataset": {"name": "lines"}})).dataset
