"""What a dataset reader returns: the samples as read, before any split or scaling.

Every reader (IDX sets, CIFAR-10, arrays, image folders, CSV tables, sklearn digits)
hands back one `Source`; splitting into train/val/test, subsets and scaling happen
afterwards in one place, so a reader only has to get the samples and labels right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aecli.errors import UserError

KINDS = ("image", "vector")


@dataclass(frozen=True)
class Source:
    """Samples as a reader found them.

    x: images (N, C, H, W), uint8 in 0..255 for 8-bit sources or float32 as stored,
        or vectors (N, D) float32.
    labels: (N,) int64 class indices into `class_names`, or None when unlabelled.
    class_names: one name per class index; empty when the source names no classes.
    test_x, test_labels: the source's own test split (same sample shape and dtype as x),
        or None when the source has none and the caller must split x.
    factors: (N, F) float generating factors, or None; `factor_names` names the F columns.
    feature_names: vectors: one name per column (a table's header), empty when the source names none.
    kind: "image" or "vector".
    origin: the file or folder read, for messages ("data.npz", "/data/KMNIST/raw").
    mapped: x is memory-mapped from its file (aecli.data.arrays, the image-folder cache).
    sample_names: one name per sample of x (an image folder's files, relative to it), or empty.
    """

    x: np.ndarray
    labels: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    test_x: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    factors: np.ndarray | None = None
    factor_names: tuple[str, ...] = ()
    feature_names: tuple[str, ...] = ()
    kind: str = "image"
    origin: str = ""
    mapped: bool = False  # x is a memory map of the file: the splits share it instead of copying rows
    sample_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Shapes and dtypes are fixed by each reader; a mismatch here is a bug in the reader.
        if self.kind not in KINDS:
            raise ValueError(f"Source.kind must be one of {KINDS}, got {self.kind!r}")
        expected_ndim = 4 if self.kind == "image" else 2
        for name in ("x", "test_x"):
            array = getattr(self, name)
            if array is not None and array.ndim != expected_ndim:
                raise ValueError(f"Source.{name} of kind {self.kind} needs {expected_ndim} dimensions, got {array.shape}")
        test_x = self.test_x
        if test_x is not None and (test_x.shape[1:] != self.x.shape[1:] or test_x.dtype != self.x.dtype):
            raise ValueError(f"Source.test_x {test_x.shape} {test_x.dtype} does not match x {self.x.shape} {self.x.dtype}")
        # A labelled source with a test split labels both splits, so plots and probes can use either.
        if (self.test_labels is not None) != (self.test_x is not None and self.labels is not None):
            raise ValueError("Source.test_labels are given exactly when both test_x and labels are")
        for name in ("labels", "test_labels"):
            array = getattr(self, name)
            if array is not None and (array.dtype != np.int64 or array.ndim != 1):
                raise ValueError(f"Source.{name} must be int64 of shape (N,), got {array.dtype} {array.shape}")
        if self.sample_names and len(self.sample_names) != len(self.x):
            raise ValueError(f"Source.sample_names: {len(self.sample_names)} names for {len(self.x)} samples")
        if self.feature_names and (self.kind != "vector" or len(self.feature_names) != self.x.shape[1]):
            raise ValueError(f"Source.feature_names needs one name per column of vectors, got {len(self.feature_names)}")
        if self.factors is not None and (self.factors.ndim != 2 or len(self.factor_names) != self.factors.shape[1]):
            raise ValueError(f"Source.factors {self.factors.shape} needs one name per column, got {self.factor_names}")
        # Counts come from the user's files, so a mismatch is theirs to fix.
        self._check_count("labels", self.labels, self.x)
        self._check_count("test labels", self.test_labels, self.test_x)
        self._check_count("factor rows", self.factors, self.x)
        for name, labels in (("labels", self.labels), ("test labels", self.test_labels)):
            if labels is None or not self.class_names or not len(labels):
                continue
            if not 0 <= labels.min() <= labels.max() < len(self.class_names):
                raise UserError(
                    f"{self.origin}: {name} range over {labels.min()}..{labels.max()} but there are "
                    f"{len(self.class_names)} classes; replace the file with one whose labels are 0..{len(self.class_names) - 1}"
                )

    def _check_count(self, what: str, values: np.ndarray | None, samples: np.ndarray | None) -> None:
        if values is not None and samples is not None and len(values) != len(samples):
            raise UserError(
                f"{self.origin}: {len(values)} {what} for {len(samples)} samples; give exactly one per sample"
            )

    def __len__(self) -> int:
        return len(self.x)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """(C, H, W) for images, (D,) for vectors."""
        return tuple(self.x.shape[1:])


def encode_labels(
    values: Sequence | np.ndarray, origin: str, class_names: Sequence[str] | None = None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels of any kind (ints, floats, strings, bytes) as (int64 indices (N,), class names).

    Without `class_names`, the classes are the distinct values in order (numeric order when
    every value is a number, "10" after "9"; text order otherwise), each named by its text.
    With `class_names`, each value maps to the index of its text in that list (e.g. labels of
    new data against the classes a model was trained on); an unknown value is a user error.
    """
    array = np.asarray(values)
    if array.ndim != 1:
        raise UserError(f"{origin}: labels must be one value per sample (1-D), got shape {array.shape}; flatten them")
    numbers = _as_numbers(array)
    if numbers is not None and np.isnan(numbers).any():
        row = int(np.flatnonzero(np.isnan(numbers))[0])
        raise UserError(f"{origin}: label of sample {row} is missing (NaN); give every sample a label")
    if class_names is not None:
        lookup = {name: index for index, name in enumerate(class_names)}
        texts = [_number_text(v) for v in numbers] if numbers is not None else [_text(v) for v in array]
        unknown = sorted({t for t in texts if t not in lookup})
        if unknown:
            raise UserError(
                f"{origin}: labels {', '.join(unknown[:5])} are not among the classes {', '.join(class_names)}; "
                f"relabel the data or leave the labels out"
            )
        return np.array([lookup[t] for t in texts], dtype=np.int64), tuple(class_names)
    if numbers is not None:
        distinct, indices = np.unique(numbers, return_inverse=True)
        return indices.astype(np.int64).reshape(-1), tuple(_number_text(v) for v in distinct)
    distinct, indices = np.unique(np.array([_text(v) for v in array], dtype=str), return_inverse=True)
    return indices.astype(np.int64).reshape(-1), tuple(str(v) for v in distinct)


def _as_numbers(array: np.ndarray) -> np.ndarray | None:
    """The labels as float64 when all are numbers (numeric dtype, or text that parses), else None."""
    if array.dtype.kind in "iuf":  # bools stay text: "False", "True"
        return array.astype(np.float64)
    try:
        return np.array([float(_text(v)) for v in array], dtype=np.float64)
    except ValueError:
        return None


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _number_text(value: float) -> str:
    # 3.0 reads as "3": integer labels stored as float (common in CSV and MATLAB exports).
    return str(int(value)) if float(value).is_integer() else repr(float(value))
