"""scikit-learn's bundled 8x8 digits."""

from __future__ import annotations

import numpy as np
import pytest

from aecli.data.digits import read_digits
from aecli.errors import UserError


def test_float_digits_are_counts_over_sixteen():
    source = read_digits()
    assert source.x.shape == (1797, 1, 8, 8) and source.x.dtype == np.float32 and source.kind == "image"
    assert source.x.min() == 0.0 and source.x.max() == 1.0
    np.testing.assert_array_equal(source.x * 16, np.round(source.x * 16))  # exactly 17 levels
    assert source.class_names == tuple("0123456789")
    assert source.labels.dtype == np.int64 and np.bincount(source.labels).tolist()[0] == 178
    assert source.test_x is None  # no given split: the caller splits


def test_uint8_digits_use_the_full_byte_range():
    as_float, as_bytes = read_digits().x, read_digits("uint8").x
    assert as_bytes.dtype == np.uint8 and as_bytes.max() == 255
    assert np.abs(as_bytes / 255.0 - as_float).max() < 0.5 / 255 + 1e-7


def test_unknown_dtype():
    with pytest.raises(UserError, match="digits dtype must be one of float32, uint8"):
        read_digits("float16")
