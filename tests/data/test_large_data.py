"""Data larger than memory: a .npy is memory-mapped and its splits share the map (batches read
their own rows), and an image folder is decoded once, in parallel, into a cache that later runs
map; the cache follows the folder's files and the requested size."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from aecli.data.arrays import read_array_file
from aecli.data.assemble import dataset_from_source
from aecli.data.decode_cache import cache_root, decode_all
from aecli.data.image_folder import _read_rgb, read_image_folder

SPLIT = OmegaConf.create({"name": "array", "seed": 3, "val_fraction": 0.2, "test_fraction": 0.2, "test_size": None})


def test_a_npy_is_mapped_and_its_splits_hand_out_what_a_copy_would(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(50, 1, 6, 6), dtype=np.uint8)
    np.save(tmp_path / "x.npy", images)
    mapped = read_array_file(tmp_path / "x.npy")
    assert mapped.mapped and isinstance(np.load(tmp_path / "x.npy", mmap_mode="r"), np.memmap)
    data = dataset_from_source(mapped, SPLIT)
    np.savez(tmp_path / "x.npz", x=images)  # an .npz is read into memory: the copying path
    copied = dataset_from_source(read_array_file(tmp_path / "x.npz"), SPLIT)
    assert not read_array_file(tmp_path / "x.npz").mapped
    for name in ("train", "val", "test"):
        ours, theirs = getattr(data, name), getattr(copied, name)
        assert ours.index is not None and theirs.index is None
        torch.testing.assert_close(ours.x, theirs.x)
        index = torch.tensor([2, 0, 1])
        torch.testing.assert_close(ours.batch(index), theirs.batch(index))
        torch.testing.assert_close(ours.rows(slice(1, 4)).x, theirs.rows(slice(1, 4)).x)
    assert data.train.stored is data.val.stored  # one map, shared
    assert data.value_range() == copied.value_range()
    assert "memory-mapped" in data.to("cpu").placement


def test_a_mapped_array_run_trains(tmp_path):
    from conftest import run_cli

    np.save(tmp_path / "x.npy", np.random.default_rng(1).integers(0, 256, size=(300, 12), dtype=np.uint8))
    result = run_cli("train", "dataset=array", f"dataset.path={tmp_path / 'x.npy'}", "trainer.epochs=2", "tsne.enabled=false",
                     "log.num_reconstructions=0", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert "memory-mapped" in result.stdout and (tmp_path / "run" / "checkpoints" / "best.pt").is_file()


def write_folder(root, count=12, size=(5, 7)):
    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / f"class{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)).save(folder / f"{i}.png")


def test_an_image_folder_is_decoded_once_and_read_from_the_cache_after(tmp_path, caplog):
    write_folder(tmp_path / "images")
    caplog.set_level(logging.INFO, logger="aecli")
    first = read_image_folder(tmp_path / "images")
    assert not first.mapped and "cached in" in caplog.text
    again = read_image_folder(tmp_path / "images")
    assert again.mapped and isinstance(again.x, np.memmap)
    np.testing.assert_array_equal(again.x, first.x)
    np.testing.assert_array_equal(again.labels, first.labels)
    entries = list((cache_root() / "image_folders").iterdir())

    resized = read_image_folder(tmp_path / "images", image_size=4)  # another size: another entry
    assert not resized.mapped and resized.x.shape[2:] == (4, 4)
    touched = tmp_path / "images" / "class0" / "0.png"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    assert not read_image_folder(tmp_path / "images").mapped  # a changed file: decoded again
    assert len(list((cache_root() / "image_folders").iterdir())) == len(entries) + 2
    assert not [p for p in (cache_root() / "image_folders").iterdir() if p.name.startswith(".writing-")]


def test_a_cache_that_cannot_be_written_decodes_in_memory_and_says_so(tmp_path, monkeypatch, caplog):
    write_folder(tmp_path / "images", count=4)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("AECLI_CACHE_DIR", str(blocked))
    caplog.set_level(logging.INFO, logger="aecli")
    source = read_image_folder(tmp_path / "images")
    assert source.x.shape == (4, 3, 5, 7) and not source.mapped
    assert "could not cache them" in caplog.text


def test_the_parallel_decode_gives_the_images_in_order(tmp_path):
    write_folder(tmp_path / "images", count=600, size=(4, 4))
    files = sorted((tmp_path / "images").rglob("*.png"))
    parallel = decode_all(files, None, _read_rgb)  # 3 chunks of 256: worker processes on a multi-core machine
    serial = [_read_rgb(file, None) for file in files]
    assert len(parallel) == 600 and all(np.array_equal(a, b) for a, b in zip(parallel, serial))


@pytest.mark.parametrize("layout", ["nhwc"])
def test_a_layout_that_needs_a_conversion_is_read_into_memory(tmp_path, layout):
    np.save(tmp_path / "x.npy", np.zeros((4, 5, 6, 3), np.uint8))
    source = read_array_file(tmp_path / "x.npy", layout=layout)
    assert not source.mapped and source.x.shape == (4, 3, 5, 6)
