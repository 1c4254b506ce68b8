"""A CSV table: each row a sample, each numeric column a data dimension.

The first row names the columns. Every column except the optional label column must
hold a finite number in every row; the label column may hold any text (class names)
or numbers. Read with the standard library's csv module (quoted fields, any delimiter).
The dataset option `csv` reads `dataset.path`, splits it (seeded) and by default
standardizes every column with the training split's mean and standard deviation.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from aecli.config.schema import Text, nearest
from aecli.data import DATASETS
from aecli.data.assemble import NORMALIZE, SPLIT_HERE, dataset_from_source
from aecli.data.base import Dataset
from aecli.data.source import Source, encode_labels
from aecli.errors import UserError


def read_table(path: str | os.PathLike, label_column: str | None = None, delimiter: str = ",") -> Source:
    """Read a CSV file with a header row into float32 vectors (N, D).

    label_column: the header name of the column holding labels (text or numbers), or None.
    Returns the data columns in file order as `x`, the labels as class indices with the
    distinct label values as class names (numeric order when all are numbers).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"{path} not found; set dataset.path to an existing CSV file")
    try:
        # utf-8-sig: spreadsheets often start the file with a byte-order mark.
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            header = next(reader, None)
            if not header or not any(name.strip() for name in header):
                raise UserError(f"{path} is empty; write a header row naming the columns, then one row per sample")
            header = [name.strip() for name in header]
            if label_column is not None and label_column not in header:
                raise UserError(_no_such_column(path, label_column, header))
            label_index = None if label_column is None else header.index(label_column)
            data_columns = [i for i in range(len(header)) if i != label_index]
            if not data_columns:
                raise UserError(f"{path} holds only the label column; add numeric data columns")
            rows: list[list[float]] = []
            labels: list[str] = []
            for row in reader:
                if not row:  # a blank line
                    continue
                if len(row) != len(header):
                    raise UserError(
                        f"{path} line {reader.line_num} has {len(row)} fields but the header has {len(header)}; "
                        f"give every row one value per column"
                    )
                rows.append([_number(row[i], path, reader.line_num, header[i]) for i in data_columns])
                if label_index is not None:
                    if not row[label_index].strip():
                        raise UserError(
                            f"{path} line {reader.line_num}, column {label_column!r} is empty; give every row a label"
                        )
                    labels.append(row[label_index].strip())
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"cannot read {path} ({error}); save it as a UTF-8 CSV file")
    if not rows:
        raise UserError(f"{path} holds a header but no data rows; add one row per sample")
    label_indices, class_names = None, ()
    if label_index is not None:
        label_indices, class_names = encode_labels(labels, f"{path} (column {label_column!r})")
    return Source(
        x=np.array(rows, dtype=np.float32),
        labels=label_indices,
        class_names=class_names,
        feature_names=tuple(header[i] for i in data_columns),
        kind="vector",
        origin=str(path),
    )


def _no_such_column(path: Path, column: str, header: list[str]) -> str:
    """The line for a label column the header lacks: its match up to case and spaces, else the
    nearest name, suggested first."""
    same = [name for name in header if name.casefold() == column.strip().casefold()]
    guess = same[0] if same else nearest(column, header)
    hint = f"did you mean dataset.label_column={guess}? " if guess else ""
    return (f"{path} has no column {column!r} (columns: {', '.join(header)}); {hint}"
            f"set dataset.label_column to one of them, or to null")


def _number(text: str, path: Path, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise UserError(
            f"{path} line {line}, column {column!r}: {text!r} is not a finite number; fix the cell, "
            f"or set dataset.label_column={column} if that column holds the labels"
        )
    return value


@DATASETS.register("csv", settings={
    "path": Text(requirement="be the path of a CSV file (dataset.path=FILE)"),
    "label_column": Text(nullable=True, requirement="be the header name of the label column, or null"),
    "delimiter": Text(requirement="be the character between fields, e.g. ',' or ';'"),
    **NORMALIZE,
    **SPLIT_HERE,
})
def load_csv_dataset(cfg: DictConfig, data_cfg: DictConfig) -> Dataset:
    """The numeric columns as feature vectors, the label column (if any) as classes."""
    source = read_table(cfg.path, cfg.label_column, str(cfg.delimiter))
    return dataset_from_source(source, cfg, str(cfg.normalize))
