"""A user's .npy/.npz arrays: every layout, text labels, factors, and each bad input."""

from __future__ import annotations

import numpy as np
import torch
import pytest

from aecli.data.arrays import read_array_file
from aecli.data.source import encode_labels
from aecli.errors import UserError

rng = np.random.default_rng(0)


def test_npy_vectors_become_float32_without_labels(tmp_path):
    x = rng.normal(size=(6, 5))
    np.save(tmp_path / "v.npy", x)
    source = read_array_file(tmp_path / "v.npy")
    assert source.kind == "vector" and source.x.dtype == np.float32
    np.testing.assert_allclose(source.x, x, rtol=1e-6)
    assert source.labels is None and source.class_names == () and source.test_x is None


@pytest.mark.parametrize(
    "shape, layout, to_nchw",
    [
        ((4, 7, 6), "auto", lambda a: a[:, None]),
        ((4, 7, 6, 3), "auto", lambda a: a.transpose(0, 3, 1, 2)),
        ((4, 1, 7, 6), "auto", lambda a: a),
        ((4, 3, 7, 3), "nhwc", lambda a: a.transpose(0, 3, 1, 2)),
        ((4, 3, 7, 3), "nchw", lambda a: a),
        ((4, 7, 6), "nhw", lambda a: a[:, None]),
    ],
)
@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_image_layouts_come_out_channels_first(tmp_path, shape, layout, to_nchw, dtype):
    x = rng.integers(0, 256, shape).astype(dtype)
    np.save(tmp_path / "i.npy", x)
    source = read_array_file(tmp_path / "i.npy", layout=layout)
    assert source.kind == "image"
    assert source.x.dtype == (np.uint8 if dtype == np.uint8 else np.float32)  # 8-bit stays 8-bit
    np.testing.assert_array_equal(source.x, to_nchw(x))
    assert source.x.flags.c_contiguous


def test_vectors_layout_on_a_matching_array_keeps_bytes_and_hands_them_out_as_the_numbers_they_are(tmp_path):
    """Byte vectors stay uint8 (a quarter of float32's memory, mapped from the .npy) and reach the
    model as 0..255, as they did when the reader made them float32."""
    from omegaconf import OmegaConf

    from aecli.data.assemble import dataset_from_source

    values = np.arange(40, dtype=np.uint8).reshape(10, 4) * 6
    np.save(tmp_path / "v.npy", values)
    source = read_array_file(tmp_path / "v.npy", layout="vectors")
    assert source.x.dtype == np.uint8 and source.mapped
    cfg = OmegaConf.create({"name": "array", "seed": 0, "val_fraction": 0.2, "test_fraction": 0.2, "test_size": None})
    data = dataset_from_source(source, cfg)
    got = torch.cat([data.train.x, data.val.x, data.test.x]).sort(0).values
    np.testing.assert_array_equal(got.numpy(), values.astype(np.float32))
    assert data.value_range() == (0.0, float(values.max()))


def test_ambiguous_4d_shape_asks_for_the_layout(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((4, 3, 5, 3), np.uint8))
    with pytest.raises(UserError, match=r"a.npy: x has shape \(4, 3, 5, 3\).*set dataset.layout=nchw or dataset.layout=nhwc"):
        read_array_file(tmp_path / "a.npy")


@pytest.mark.parametrize("shape, layout", [((4, 5), "nhwc"), ((4, 5, 6), "vectors"), ((4, 5, 6, 1), "nhw")])
def test_a_layout_that_does_not_fit_the_shape_is_a_user_error(tmp_path, shape, layout):
    np.save(tmp_path / "a.npy", np.zeros(shape))
    with pytest.raises(UserError, match=f"but layout {layout} needs"):
        read_array_file(tmp_path / "a.npy", layout=layout)


def test_unknown_layout_and_one_dimensional_x(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(5))
    with pytest.raises(UserError, match="unknown array layout 'hwc'"):
        read_array_file(tmp_path / "a.npy", layout="hwc")
    with pytest.raises(UserError, match=r"x has shape \(5,\); save vectors"):
        read_array_file(tmp_path / "a.npy")


def test_npz_with_text_labels_and_factors(tmp_path):
    x = rng.normal(size=(5, 3)).astype(np.float32)
    y = np.array(["dog", "cat", "dog", "bird", "cat"])
    np.savez(tmp_path / "d.npz", x=x, y=y, factors=np.arange(5.0))
    source = read_array_file(tmp_path / "d.npz")
    assert source.class_names == ("bird", "cat", "dog")
    assert source.labels.tolist() == [2, 1, 2, 0, 1] and source.labels.dtype == np.int64
    assert source.factors.shape == (5, 1) and source.factor_names == ("factor_0",)
    np.testing.assert_array_equal(source.x, x)


def test_integer_labels_keep_their_values_as_names(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 2)), y=np.array([10, 2, 9, 2]))
    source = read_array_file(tmp_path / "d.npz")
    assert source.class_names == ("2", "9", "10")  # numeric order, not text order
    assert source.labels.tolist() == [2, 0, 1, 0]


def test_npz_without_x_names_the_keys_and_the_fix(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((3, 2)), labels=np.zeros(3))
    with pytest.raises(UserError, match=r"d.npz has no array named x \(it holds X, labels\); save the samples under x"):
        read_array_file(tmp_path / "d.npz")


def test_npz_with_unknown_keys_is_refused(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((3, 2)), labels=np.zeros(3))
    with pytest.raises(UserError, match="arrays named labels, which aecli does not read; keep only x, y, factors"):
        read_array_file(tmp_path / "d.npz")


@pytest.mark.parametrize("key", ["y", "factors"])
def test_a_count_that_does_not_match_x(tmp_path, key):
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 2)), **{key: np.arange(3)})
    with pytest.raises(UserError, match=r"d.npz: 3 (labels|factor rows) for 4 samples; give exactly one per sample"):
        read_array_file(tmp_path / "d.npz")


def test_missing_file_and_wrong_suffix(tmp_path):
    with pytest.raises(UserError, match=r"nope.npz not found; set dataset.path"):
        read_array_file(tmp_path / "nope.npz")
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="is not a .npy or .npz file"):
        read_array_file(tmp_path / "table.csv")


def test_object_arrays_are_not_unpickled(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 2)), y=np.array(["a", None], dtype=object))
    with pytest.raises(UserError, match="holds Python objects, which aecli does not unpickle"):
        read_array_file(tmp_path / "d.npz")


def test_a_pickle_renamed_to_npy_is_refused(tmp_path):
    import pickle

    (tmp_path / "p.npy").write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(UserError, match="p.npy is not a NumPy .npy/.npz file"):
        read_array_file(tmp_path / "p.npy")


def test_truncated_npy_is_a_user_error(tmp_path):
    np.save(tmp_path / "t.npy", np.zeros((10, 10)))
    (tmp_path / "t.npy").write_bytes((tmp_path / "t.npy").read_bytes()[:300])
    with pytest.raises(UserError, match=r"cannot read .*t.npy"):
        read_array_file(tmp_path / "t.npy")


def test_non_finite_values_name_the_sample(tmp_path):
    x = np.zeros((4, 3))
    x[2, 1] = np.nan
    np.save(tmp_path / "n.npy", x)
    with pytest.raises(UserError, match="NaN or infinite values .first in sample 2."):
        read_array_file(tmp_path / "n.npy")


def test_empty_and_text_x(tmp_path):
    np.save(tmp_path / "e.npy", np.zeros((0, 3)))
    with pytest.raises(UserError, match="x holds no samples"):
        read_array_file(tmp_path / "e.npy")
    np.save(tmp_path / "s.npy", np.array([["a", "b"]]))
    with pytest.raises(UserError, match="save the samples as numbers"):
        read_array_file(tmp_path / "s.npy")


def test_encode_labels_against_given_class_names():
    indices, names = encode_labels(np.array(["cat", "dog", "cat"]), "new.npz", class_names=("dog", "cat"))
    assert indices.tolist() == [1, 0, 1] and names == ("dog", "cat")
    indices, _ = encode_labels(np.array([3.0, 1.0]), "new.npz", class_names=("1", "3"))
    assert indices.tolist() == [1, 0]
    with pytest.raises(UserError, match="labels fox are not among the classes dog, cat"):
        encode_labels(["cat", "fox"], "new.npz", class_names=("dog", "cat"))


def test_encode_labels_kinds():
    assert encode_labels(np.array([b"b", b"a"]), "f")[1] == ("a", "b")
    indices, names = encode_labels(np.array([True, False]), "f")
    assert indices.tolist() == [1, 0] and names == ("False", "True")
    assert encode_labels(["2", "10", "1.5"], "f")[1] == ("1.5", "2", "10")
    with pytest.raises(UserError, match="label of sample 1 is missing"):
        encode_labels(np.array([1.0, np.nan]), "f")
    with pytest.raises(UserError, match=r"labels must be one value per sample \(1-D\), got shape \(2, 2\)"):
        encode_labels(np.eye(2), "f")
