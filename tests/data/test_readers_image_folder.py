"""A folder of PNG/JPEG files: class subfolders, channels, resizing, and each bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aecli.data.image_folder import read_image_folder
from aecli.errors import UserError

rng = np.random.default_rng(0)


def save(path: Path, pixels: np.ndarray) -> np.ndarray:
    """Write uint8 pixels (H, W) or (H, W, 3) as an image file; returns them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return pixels


def rgb(height: int = 6, width: int = 5) -> np.ndarray:
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def gray(height: int = 6, width: int = 5) -> np.ndarray:
    return rng.integers(0, 256, (height, width), dtype=np.uint8)


def test_class_subfolders_become_labels_in_sorted_order(tmp_path):
    written = {
        "zebra/a.png": save(tmp_path / "zebra" / "a.png", rgb()),
        "cat/b.png": save(tmp_path / "cat" / "b.png", rgb()),
        "cat/nested/c.PNG": save(tmp_path / "cat" / "nested" / "c.PNG", rgb()),
    }
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    save(tmp_path / "cat" / ".hidden.png", rgb())
    source = read_image_folder(tmp_path)
    assert source.class_names == ("cat", "zebra")
    assert source.labels.tolist() == [0, 0, 1] and source.labels.dtype == np.int64
    assert source.x.dtype == np.uint8 and source.x.shape == (3, 3, 6, 5) and source.kind == "image"
    np.testing.assert_array_equal(source.x[0], written["cat/b.png"].transpose(2, 0, 1))
    np.testing.assert_array_equal(source.x[1], written["cat/nested/c.PNG"].transpose(2, 0, 1))
    np.testing.assert_array_equal(source.x[2], written["zebra/a.png"].transpose(2, 0, 1))


def test_images_without_subfolders_are_unlabelled(tmp_path):
    first = save(tmp_path / "1.png", gray())
    save(tmp_path / "2.png", gray())
    source = read_image_folder(tmp_path)
    assert source.labels is None and source.class_names == ()
    assert source.x.shape == (2, 1, 6, 5)  # all gray: one channel
    np.testing.assert_array_equal(source.x[0, 0], first)


def test_rgb_files_with_equal_channels_count_as_gray(tmp_path):
    pixels = gray()
    save(tmp_path / "a.png", np.repeat(pixels[..., None], 3, axis=2))
    source = read_image_folder(tmp_path)
    assert source.x.shape == (1, 1, 6, 5)
    np.testing.assert_array_equal(source.x[0, 0], pixels)


def test_mixed_gray_and_colour_keep_three_channels(tmp_path):
    pixels = save(tmp_path / "a.png", gray())
    save(tmp_path / "b.png", rgb())
    source = read_image_folder(tmp_path)
    assert source.x.shape == (2, 3, 6, 5)
    for channel in range(3):
        np.testing.assert_array_equal(source.x[0, channel], pixels)


def test_channels_one_converts_colour_like_pillow(tmp_path):
    pixels = save(tmp_path / "a.png", rgb())
    source = read_image_folder(tmp_path, channels=1)
    expected = np.asarray(Image.fromarray(pixels).convert("L"), dtype=np.int16)
    assert source.x.shape == (1, 1, 6, 5)
    assert np.abs(source.x[0, 0].astype(np.int16) - expected).max() <= 1


def test_channels_three_repeats_gray(tmp_path):
    save(tmp_path / "a.png", gray())
    assert read_image_folder(tmp_path, channels=3).x.shape == (1, 3, 6, 5)


@pytest.mark.parametrize("image_size, shape", [(4, (4, 4)), ([3, 8], (3, 8)), ((6, 5), (6, 5))])
def test_resize_to_image_size(tmp_path, image_size, shape):
    save(tmp_path / "a" / "big.png", rgb(12, 10))
    save(tmp_path / "b" / "small.png", rgb(6, 5))
    source = read_image_folder(tmp_path, image_size=image_size)
    assert source.x.shape == (2, 3, *shape)


def test_resize_keeps_a_flat_image_flat(tmp_path):
    save(tmp_path / "a.png", np.full((12, 10, 3), (200, 30, 90), np.uint8))
    source = read_image_folder(tmp_path, image_size=4)
    assert source.x.shape == (1, 3, 4, 4)
    np.testing.assert_array_equal(source.x[0], np.broadcast_to(np.array([200, 30, 90], np.uint8)[:, None, None], (3, 4, 4)))


def test_mixed_sizes_without_image_size_name_both_files_and_the_fix(tmp_path):
    save(tmp_path / "a.png", rgb(6, 5))
    save(tmp_path / "b.png", rgb(7, 5))
    with pytest.raises(UserError) as error:
        read_image_folder(tmp_path)
    message = str(error.value)
    assert "b.png is 7x5 pixels but" in message and "a.png is 6x5" in message and "set dataset.image_size" in message


def test_jpeg_files_are_read(tmp_path):
    Image.fromarray(np.full((8, 8, 3), 128, np.uint8)).save(tmp_path / "a.jpg", quality=95)
    Image.fromarray(np.full((8, 8, 3), 128, np.uint8)).save(tmp_path / "b.JPEG", quality=95)
    source = read_image_folder(tmp_path)
    assert source.x.shape == (2, 1, 8, 8)  # a flat gray JPEG decodes to equal channels
    assert np.abs(source.x.astype(int) - 128).max() <= 2


def test_rgba_and_palette_images(tmp_path):
    pixels = rgb()
    Image.fromarray(np.dstack([pixels, np.full((6, 5), 7, np.uint8)])).save(tmp_path / "a.png")
    Image.fromarray(pixels).convert("P").save(tmp_path / "b.png")
    source = read_image_folder(tmp_path)
    assert source.x.shape == (2, 3, 6, 5)
    np.testing.assert_array_equal(source.x[0], pixels.transpose(2, 0, 1))  # alpha dropped


def test_sixteen_bit_gray_keeps_its_high_byte(tmp_path):
    values = np.array([[0, 256, 65535, 32768]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "a.png")
    assert read_image_folder(tmp_path).x[0, 0].tolist() == [[0, 1, 255, 128]]


def test_unreadable_image_names_the_file(tmp_path):
    save(tmp_path / "good.png", rgb())
    (tmp_path / "bad.png").write_bytes(b"not a png at all")
    with pytest.raises(UserError, match=r"cannot read image .*bad.png .*replace or remove the file"):
        read_image_folder(tmp_path)


def test_truncated_png_is_a_user_error(tmp_path):
    save(tmp_path / "a.png", rgb(40, 40))
    (tmp_path / "a.png").write_bytes((tmp_path / "a.png").read_bytes()[:200])
    with pytest.raises(UserError, match=r"cannot read image .*a.png"):
        read_image_folder(tmp_path)


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(UserError, match=r"image folder .*nope not found; set dataset.path"):
        read_image_folder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(UserError, match=r"empty holds no PNG/JPEG images"):
        read_image_folder(tmp_path / "empty")
    save(tmp_path / "classes" / "cat" / "a.png", rgb())
    (tmp_path / "classes" / "dog").mkdir()
    with pytest.raises(UserError, match=r"class folder .*dog holds no PNG/JPEG images"):
        read_image_folder(tmp_path / "classes")


def test_loose_images_beside_class_folders_are_ambiguous(tmp_path):
    save(tmp_path / "cat" / "a.png", rgb())
    save(tmp_path / "stray.png", rgb())
    with pytest.raises(UserError, match=r"holds both images \(stray.png\) and subfolders \(cat\)"):
        read_image_folder(tmp_path)


@pytest.mark.parametrize("image_size", [0, [3], "32", [4, -1]])
def test_bad_image_size(tmp_path, image_size):
    save(tmp_path / "a.png", rgb())
    with pytest.raises(UserError, match="dataset.image_size must be a positive int or"):
        read_image_folder(tmp_path, image_size=image_size)


def test_bad_channels(tmp_path):
    save(tmp_path / "a.png", rgb())
    with pytest.raises(UserError, match="dataset.channels must be 1, 3 or null"):
        read_image_folder(tmp_path, channels=2)


def test_one_class_folder_given_as_the_path_trains_unlabelled_and_says_so(tmp_path, caplog):
    from omegaconf import OmegaConf

    from aecli.data import DATASETS

    for name in ("cat", "dog"):
        for i in range(10):
            save(tmp_path / "pets" / name / f"{i}.png", rgb())
    cfg = OmegaConf.create({"name": "image_folder", "path": str(tmp_path / "pets" / "cat"), "image_size": None,
                            "channels": None, "val_fraction": 0.2, "test_fraction": 0.2, "train_size": None,
                            "test_size": None, "seed": 0, "exclude_classes": [], "include_classes": []})
    with caplog.at_level("INFO", logger="aecli"):
        data = DATASETS.build(cfg, OmegaConf.create({}))
    assert data.train.labels is None
    assert (f"no class subfolders in {tmp_path / 'pets' / 'cat'}: unlabelled; it looks like one class of "
            f"{tmp_path / 'pets'}: dataset.path={tmp_path / 'pets'} labels by subfolder") in caplog.messages
