"""IDX sets (MNIST, FashionMNIST, KMNIST) in torchvision's layout: reading, bad files, download."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest

from aecli.data.idx_sets import FILE_NAMES, IDX_SETS, read_idx_set
from conftest import idx_bytes, write_idx_files
from aecli.errors import UserError


def write_idx_set(raw_dir: Path, num_train: int = 12, num_test: int = 5, gz: bool = True) -> dict[str, np.ndarray]:
    """Four IDX files with random 28x28 images and labels 0..9; returns the arrays by key."""
    rng = np.random.default_rng(1)
    arrays = {
        "train_images": rng.integers(0, 256, (num_train, 28, 28)),
        "train_labels": rng.integers(0, 10, num_train),
        "test_images": rng.integers(0, 256, (num_test, 28, 28)),
        "test_labels": rng.integers(0, 10, num_test),
    }
    write_idx_files(raw_dir, {FILE_NAMES[key]: array for key, array in arrays.items()}, gz)
    return arrays


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_reads_both_splits_as_uint8_without_writing(tmp_path, gz):
    arrays = write_idx_set(tmp_path / "FashionMNIST" / "raw", gz=gz)
    before = listing(tmp_path)
    source = read_idx_set("fashion_mnist", tmp_path)
    assert listing(tmp_path) == before
    assert source.x.dtype == np.uint8 and source.x.shape == (12, 1, 28, 28)
    np.testing.assert_array_equal(source.x[:, 0], arrays["train_images"])
    np.testing.assert_array_equal(source.labels, arrays["train_labels"])
    np.testing.assert_array_equal(source.test_x[:, 0], arrays["test_images"])
    np.testing.assert_array_equal(source.test_labels, arrays["test_labels"])
    assert source.labels.dtype == np.int64 and source.kind == "image"
    assert source.class_names[0] == "T-shirt/top" and source.class_names[9] == "Ankle boot"
    assert source.x.flags.writeable


def test_kmnist_has_its_own_folder_and_hiragana_names(tmp_path):
    write_idx_set(tmp_path / "KMNIST" / "raw", num_train=3, num_test=2)
    source = read_idx_set("kmnist", tmp_path)
    assert (len(source), len(source.test_x)) == (3, 2)  # a subset: sizes are not checked against the originals
    assert source.class_names == ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
    with pytest.raises(UserError, match="FashionMNIST"):
        read_idx_set("fashion_mnist", tmp_path)


def test_the_mnist_table_matches_the_real_files(mnist_root):
    raw = mnist_root / "MNIST" / "raw"
    for key, name in FILE_NAMES.items():
        assert hashlib.md5((raw / f"{name}.gz").read_bytes()).hexdigest() == IDX_SETS["mnist"].md5s[key]
    source = read_idx_set("mnist", mnist_root)
    assert source.x.shape == (60000, 1, 28, 28) and source.test_x.shape == (10000, 1, 28, 28)
    assert source.class_names == tuple("0123456789")
    assert np.bincount(source.labels).min() > 5000


def test_missing_files_name_the_folder_and_the_fix(tmp_path):
    with pytest.raises(UserError) as error:
        read_idx_set("fashion_mnist", tmp_path)
    message = str(error.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in message and "data.download=true" in message
    assert "\n" not in message
    assert not (tmp_path / "FashionMNIST").exists()


def test_unknown_set_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="choose one of mnist, fashion_mnist, kmnist"):
        read_idx_set("emnist", tmp_path)


@pytest.mark.parametrize(
    "mangle, reason",
    [
        (lambda b: b"\x01" + b[1:], "wrong magic number"),
        (lambda b: b[:-100], "truncated or corrupted"),
    ],
)
def test_bad_idx_file_names_the_file(tmp_path, mangle, reason):
    raw = tmp_path / "KMNIST" / "raw"
    write_idx_set(raw, gz=False)
    path = raw / FILE_NAMES["test_images"]
    path.write_bytes(mangle(path.read_bytes()))
    with pytest.raises(UserError, match=reason) as error:
        read_idx_set("kmnist", tmp_path)
    assert str(path) in str(error.value)


def test_image_and_label_counts_must_agree(tmp_path):
    raw = tmp_path / "KMNIST" / "raw"
    write_idx_set(raw, gz=False)
    (raw / FILE_NAMES["train_labels"]).write_bytes(idx_bytes(np.zeros(11)))
    with pytest.raises(UserError, match=r"KMNIST train files in .* disagree.*labels \(11,\)"):
        read_idx_set("kmnist", tmp_path)


def test_label_beyond_the_classes_is_a_user_error(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    write_idx_set(raw, gz=False)
    (raw / FILE_NAMES["test_labels"]).write_bytes(idx_bytes(np.array([0, 1, 12, 3, 4])))
    with pytest.raises(UserError, match="test labels range over 0..12 but there are 10 classes"):
        read_idx_set("fashion_mnist", tmp_path)


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A file:// mirror of a fake FashionMNIST whose md5 sums are made the expected ones."""
    folder = tmp_path / "mirror"
    arrays = write_idx_set(folder)
    md5s = {key: hashlib.md5((folder / f"{name}.gz").read_bytes()).hexdigest() for key, name in FILE_NAMES.items()}
    monkeypatch.setitem(IDX_SETS, "fashion_mnist", dataclasses.replace(IDX_SETS["fashion_mnist"], md5s=md5s))
    return folder, arrays


def test_download_fetches_missing_files_from_the_next_mirror(tmp_path, mirror):
    folder, arrays = mirror
    raw = tmp_path / "root" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    # One file already present (a subset): it is used as it is, not fetched again.
    (raw / FILE_NAMES["test_labels"]).write_bytes(idx_bytes(np.array([7, 7, 7, 7, 7])))
    mirrors = [(tmp_path / "dead").as_uri() + "/", folder.as_uri() + "/"]
    source = read_idx_set("fashion_mnist", tmp_path / "root", download=True, mirrors=mirrors)
    np.testing.assert_array_equal(source.x[:, 0], arrays["train_images"])
    assert source.test_labels.tolist() == [7] * 5
    assert sorted(p.name for p in raw.iterdir()) == sorted(
        [f"{FILE_NAMES[k]}.gz" for k in ("train_images", "train_labels", "test_images")] + [FILE_NAMES["test_labels"]]
    )


def test_download_refuses_a_wrong_md5_and_leaves_nothing(tmp_path, mirror, monkeypatch):
    folder, _ = mirror
    spec = IDX_SETS["fashion_mnist"]
    monkeypatch.setitem(IDX_SETS, "fashion_mnist", dataclasses.replace(spec, md5s={**spec.md5s, "train_images": "0" * 32}))
    with pytest.raises(UserError, match=r"could not download train-images-idx3-ubyte.gz \(.*md5 \w+ does not match 0{32}"):
        read_idx_set("fashion_mnist", tmp_path / "root", download=True, mirrors=[folder.as_uri()])
    assert listing(tmp_path / "root" / "FashionMNIST" / "raw") == []


def test_the_published_md5_sums_refuse_a_fake_file(tmp_path):
    write_idx_set(tmp_path / "kmirror")
    with pytest.raises(UserError, match="does not match bdb82020997e1d708af4cf47b453dcf7"):
        read_idx_set("kmnist", tmp_path / "root", download=True, mirrors=[(tmp_path / "kmirror").as_uri()])
