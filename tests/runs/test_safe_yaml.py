"""A run folder's config from someone else: read what aecli train writes, refuse at once
what could make loading (or resolving) run without bound, one line each."""

from __future__ import annotations

import os
import time

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from aecli.errors import UserError
from aecli.runs.safe_yaml import read_yaml_config

# Nine levels of nine: 9**9 (387 million) "lol"s once expanded, in 600 bytes.
BILLION_LAUGHS = '\nlol0: &lol0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"lol{i}: &lol{i} [{','.join([f'*lol{i - 1}'] * 9)}]\n" for i in range(1, 9)
)

# Seven levels of ten interpolations: resolving lol7 builds a 30-million-character string, one
# resolution at a time (OmegaConf does not memoize), which takes hours.
INTERPOLATION_BOMB = "\nlol0: lol\n" + "".join(f"lol{i}: {('${lol%d}' % (i - 1)) * 10}\n" for i in range(1, 8))


@pytest.fixture(scope="module")
def saved_config_text() -> str:
    """What aecli train saves as .hydra/config.yaml: the composed config, resolved, as YAML."""
    with initialize_config_module("aecli.configs", version_base="1.3"):
        cfg = compose("train", overrides=["regularizer=[denoising,sparse_kl]", "model=conv", "dataset=mnist"])
    OmegaConf.resolve(cfg)
    return OmegaConf.to_yaml(cfg)


def written(tmp_path, text: str, name: str = "config.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def refusal(path, **limits) -> str:
    started = time.perf_counter()
    with pytest.raises(UserError) as refused:
        read_yaml_config(path, **limits)
    assert time.perf_counter() - started < 1.0
    message = str(refused.value)
    assert "\n" not in message and str(path) in message
    return message


def test_a_config_written_by_aecli_train_reads_back_unchanged(tmp_path, saved_config_text):
    path = written(tmp_path, saved_config_text)
    assert read_yaml_config(path) == OmegaConf.load(path)


def test_a_billion_laughs_appended_to_a_run_config_is_refused_at_once(tmp_path, saved_config_text):
    path = written(tmp_path, saved_config_text + BILLION_LAUGHS)
    message = refusal(path)
    assert "YAML anchor &lol0" in message and "restore the run's own .hydra/config.yaml" in message


@pytest.mark.parametrize(
    "text, problem",
    [
        ("model: *undefined\n", "YAML alias *undefined"),
        ("base: &base {a: 1}\nmodel:\n  <<: *base\n", "YAML anchor &base"),  # a merge key is an alias too
    ],
)
def test_anchors_and_aliases_are_refused(tmp_path, text, problem):
    assert problem in refusal(written(tmp_path, text))


def test_an_interpolation_bomb_is_refused_before_anything_resolves_it(tmp_path, saved_config_text):
    path = written(tmp_path, saved_config_text + INTERPOLATION_BOMB)
    assert "holds the interpolation '${lol0}" in refusal(path)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    path = written(tmp_path, "seed: 1\n" + "# padding\n" * 200)
    assert "over the 1,000-byte limit" in refusal(path, max_bytes=1000)
    assert read_yaml_config(path, max_bytes=10_000).seed == 1


def test_too_many_nodes_or_too_deep_a_nesting_is_refused(tmp_path):
    many = written(tmp_path, "".join(f"key{i}: {i}\n" for i in range(60)), "many.yaml")
    assert "over 100 YAML nodes" in refusal(many, max_nodes=100)
    assert len(read_yaml_config(many, max_nodes=200)) == 60

    deep = written(tmp_path, "a: " + "[" * 100 + "]" * 100 + "\n", "deep.yaml")
    assert "nests over 64 levels deep (line 1)" in refusal(deep)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("model: {name: mlp\nseed: 1\n", "at line 2"),  # a damaged file: where it breaks
        ("seed: 1\nseed: 2\n", "found duplicate key seed at line 2"),
        ("seed: !!python/object/apply:os.system ['true']\n", "could not determine a constructor"),
        ("- a list\n- not a config\n", "holds no config mapping"),
        ("", "holds no config mapping"),
    ],
)
def test_damaged_or_foreign_yaml_is_one_line_with_where(tmp_path, text, problem):
    assert problem in refusal(written(tmp_path, text))


def test_a_fifo_in_place_of_the_config_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    assert "is not a regular file" in refusal(fifo)


def test_a_missing_file_names_the_fix_given(tmp_path):
    with pytest.raises(UserError, match=r"No such file or directory\); resume a folder written by aecli train$"):
        read_yaml_config(tmp_path / "config.yaml", fix="resume a folder written by aecli train")
