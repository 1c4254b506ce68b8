"""A CSV table: numeric columns as vectors, a text label column, and each bad input."""

from __future__ import annotations

import numpy as np
import pytest

from aecli.data.table import read_table
from aecli.errors import UserError


def write(tmp_path, text: str, name: str = "t.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def test_numeric_columns_with_a_text_label_column(tmp_path):
    path = write(tmp_path, 'height,species,width\n1.5,"setosa",2\n-3e-1,virginica,4\n\n7,setosa,0.25\n')
    source = read_table(path, label_column="species")
    assert source.kind == "vector" and source.x.dtype == np.float32
    np.testing.assert_allclose(source.x, [[1.5, 2], [-0.3, 4], [7, 0.25]], rtol=1e-6)
    assert source.class_names == ("setosa", "virginica") and source.labels.tolist() == [0, 1, 0]


def test_without_a_label_column_every_column_is_data(tmp_path):
    source = read_table(write(tmp_path, "a,b,c\n1,2,3\n4,5,6\n"))
    assert source.x.shape == (2, 3) and source.labels is None and source.class_names == ()


def test_numeric_labels_are_ordered_as_numbers(tmp_path):
    source = read_table(write(tmp_path, "x,label\n0,10\n1,9\n2,2\n3,9\n"), label_column="label")
    assert source.class_names == ("2", "9", "10") and source.labels.tolist() == [2, 1, 0, 1]


def test_byte_order_mark_and_other_delimiters(tmp_path):
    path = write(tmp_path, "a;b\n1;2\n", encoding="utf-8-sig")
    source = read_table(path, label_column="a", delimiter=";")
    assert source.x.tolist() == [[2.0]] and source.class_names == ("1",)


@pytest.mark.parametrize("cell", ["abc", "", "nan", "inf", "1,5"])
def test_a_non_numeric_cell_names_line_and_column(tmp_path, cell):
    path = write(tmp_path, f'a,b\n1,2\n3,"{cell}"\n')
    with pytest.raises(UserError) as error:
        read_table(path)
    message = str(error.value)
    assert f"t.csv line 3, column 'b': {cell!r} is not a finite number" in message
    assert "dataset.label_column=b" in message and "\n" not in message


def test_unknown_label_column_lists_the_columns(tmp_path):
    with pytest.raises(UserError, match=r"has no column 'kind' \(columns: a, b\); set dataset.label_column"):
        read_table(write(tmp_path, "a,b\n1,2\n"), label_column="kind")


def test_empty_label_cell(tmp_path):
    with pytest.raises(UserError, match=r"t.csv line 3, column 'y' is empty; give every row a label"):
        read_table(write(tmp_path, "x,y\n1,cat\n2,\n"), label_column="y")


def test_ragged_row(tmp_path):
    with pytest.raises(UserError, match=r"t.csv line 2 has 3 fields but the header has 2"):
        read_table(write(tmp_path, "a,b\n1,2,3\n"))


def test_missing_empty_and_header_only_files(tmp_path):
    with pytest.raises(UserError, match=r"nope.csv not found; set dataset.path"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(UserError, match=r"t.csv is empty; write a header row"):
        read_table(write(tmp_path, ""))
    with pytest.raises(UserError, match=r"t.csv holds a header but no data rows"):
        read_table(write(tmp_path, "a,b\n"))
    with pytest.raises(UserError, match=r"holds only the label column"):
        read_table(write(tmp_path, "y\ncat\n"), label_column="y")


def test_a_file_that_is_not_text(tmp_path):
    (tmp_path / "t.csv").write_bytes(b"a,b\n\xff\xfe\x00\x01,2\n")
    with pytest.raises(UserError, match=r"cannot read .*t.csv .*save it as a UTF-8 CSV file"):
        read_table(tmp_path / "t.csv")
