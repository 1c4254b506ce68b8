"""Every bad input of a user's own data is one line naming the file and the fix: each checked
where the config is turned into data (build_experiment, in-process, fast), and a few through
the real entry function for the exit status and the single line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_cli

from aecli.errors import UserError


def png(path, size=(4, 4)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((*size, 3), dtype=np.uint8)).save(path)


def case_missing_path(tmp):
    return ["dataset=array", f"dataset.path={tmp / 'nope.npz'}"], "nope.npz not found; set dataset.path"


def case_no_path(tmp):
    return ["dataset=csv"], "dataset.path must be the path of a CSV file"


def case_empty_folder(tmp):
    (tmp / "empty").mkdir()
    return ["dataset=image_folder", f"dataset.path={tmp / 'empty'}"], "holds no PNG/JPEG images"


def case_unreadable_image(tmp):
    png(tmp / "pics" / "a" / "good.png")
    (tmp / "pics" / "a" / "bad.png").write_bytes(b"not a png")
    return ["dataset=image_folder", f"dataset.path={tmp / 'pics'}"], "bad.png"


def case_mixed_sizes(tmp):
    png(tmp / "pics" / "a" / "1.png", (4, 4))
    png(tmp / "pics" / "a" / "2.png", (5, 4))
    return ["dataset=image_folder", f"dataset.path={tmp / 'pics'}"], "set dataset.image_size"


def case_non_numeric_cell(tmp):
    (tmp / "t.csv").write_text("a,b\n1,2\n3,oops\n")
    return ["dataset=csv", f"dataset.path={tmp / 't.csv'}"], "line 3, column 'b': 'oops' is not a finite number"


def case_npz_without_x(tmp):
    np.savez(tmp / "a.npz", data=np.zeros((5, 2)))
    return ["dataset=array", f"dataset.path={tmp / 'a.npz'}"], "has no array named x"


def case_label_count(tmp):
    np.savez(tmp / "a.npz", x=np.zeros((5, 2)), y=np.arange(4))
    return ["dataset=array", f"dataset.path={tmp / 'a.npz'}"], "4 labels for 5 samples"


def case_ambiguous_layout(tmp):
    np.save(tmp / "a.npy", np.zeros((5, 3, 4, 3), dtype=np.uint8))
    return ["dataset=array", f"dataset.path={tmp / 'a.npy'}"], "set dataset.layout=nchw or dataset.layout=nhwc"


def case_conv_on_vectors(tmp):
    (tmp / "t.csv").write_text("a,b\n" + "".join(f"{i},{i}\n" for i in range(20)))
    return ["dataset=csv", f"dataset.path={tmp / 't.csv'}", "model=conv"], "use model=mlp"


def case_unknown_label_column(tmp):
    (tmp / "t.csv").write_text("a,b\n1,2\n")
    return ["dataset=csv", f"dataset.path={tmp / 't.csv'}", "dataset.label_column=kind"], "has no column 'kind'"


def case_label_column_in_another_case(tmp):
    (tmp / "t.csv").write_text("alcohol,cultivar\n13.2,b\n")
    return (["dataset=csv", f"dataset.path={tmp / 't.csv'}", "dataset.label_column=Cultivar"],
            "has no column 'Cultivar' (columns: alcohol, cultivar); did you mean dataset.label_column=cultivar?")


def case_image_file_for_a_folder(tmp):
    png(tmp / "pics" / "cat.png")
    return (["dataset=image_folder", f"dataset.path={tmp / 'pics' / 'cat.png'}"],
            f"dataset.path={tmp / 'pics' / 'cat.png'} is a file, but dataset=image_folder reads a folder of PNG/JPEG "
            f"images (or of class subfolders of them); set dataset.path to the folder that holds it ({tmp / 'pics'})")


def case_table_for_a_folder(tmp):
    (tmp / "t.csv").write_text("a,b\n1,2\n")
    return ["dataset=image_folder", f"dataset.path={tmp / 't.csv'}"], "is a file, but dataset=image_folder reads a folder"


CASES = [case_missing_path, case_no_path, case_empty_folder, case_unreadable_image, case_mixed_sizes,
         case_non_numeric_cell, case_npz_without_x, case_label_count, case_ambiguous_layout,
         case_conv_on_vectors, case_unknown_label_column, case_label_column_in_another_case,
         case_image_file_for_a_folder, case_table_for_a_folder]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[5:] for c in CASES])
def test_bad_input_is_a_one_line_user_error(tmp_path, case):
    from hydra import compose, initialize_config_module

    from aecli.runs.config import check_train_config as validate_train_config
    from aecli.engine.experiment import build_experiment

    overrides, expected = case(tmp_path)
    with initialize_config_module("aecli.configs", version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    with pytest.raises(UserError) as error:
        validate_train_config(cfg)
        build_experiment(cfg, torch.device("cpu"))
    assert expected in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("case", [case_missing_path, case_conv_on_vectors], ids=["missing_path", "conv_on_vectors"])
def test_bad_input_exits_2_with_one_line(tmp_path, case):
    overrides, expected = case(tmp_path)
    result = run_cli("train", *overrides, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path, check=False)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and expected in lines[0], result.stderr
    assert not (tmp_path / "run").exists()


def test_encode_errors_are_one_line(tmp_path):
    result = run_cli("encode", f"run={tmp_path}", "split=test", f"output={tmp_path / 'c.txt'}", check=False)
    assert result.returncode == 2 and "must end in .npy, .npz or .csv" in result.stderr
    result = run_cli("encode", f"run={tmp_path}", f"output={tmp_path / 'c.npy'}", check=False)
    assert result.returncode == 2 and "give exactly one of input=PATH" in result.stderr
    result = run_cli("encode", f"run={tmp_path / 'nope'}", "split=test", f"output={tmp_path / 'c.npy'}", check=False)
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_odd_sized_images_train_a_conv_model_even_with_a_tiny_test_split(tmp_path):
    """The conv model takes any image side (each stage's output padding is computed); ten
    7x7 images leave one test image, too few for a t-SNE, which is skipped with a line."""
    for i in range(10):
        png(tmp_path / "pics" / f"{i}.png", (7, 7))
    result = run_cli("train", "dataset=image_folder", f"dataset.path={tmp_path / 'pics'}", "model=conv",
                     "trainer.epochs=1", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert "t-SNE skipped: the test split holds 1 codes" in result.stdout
    assert f"no class subfolders in {tmp_path / 'pics'}: unlabelled; one subfolder per class gives labels" in result.stdout
    assert (tmp_path / "run" / "checkpoints" / "best.pt").is_file()
