"""What a person sees opening TensorBoard on runs: each run named after its folder, the loss curves
first with train beside val, the key figures as HParams metrics, one chart per loss term."""

from __future__ import annotations

import json

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.util import tensor_util

from conftest import TINY, run_cli

from aecli.engine.curves import BEST_VAL, EPOCH_SECONDS, LEARNING_RATE, curve_tag
from aecli.runs.store import events_folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("tb")
    folder = base / "outputs" / "2026-01-02" / "12-00-00_lines-mlp"
    run_cli("train", *TINY, "tsne.enabled=false", f"hydra.run.dir={folder}", cwd=base)
    return folder


def loaded(folder) -> EventAccumulator:
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0, "images": 0})
    events.Reload()
    return events


def test_each_runs_events_sit_in_a_folder_named_after_the_run(run_dir):
    folder = run_dir / "tensorboard" / run_dir.name
    assert events_folder(run_dir) == folder
    assert list(folder.glob("events.out.tfevents.*"))
    assert not list((run_dir / "tensorboard").glob("events.out.tfevents.*"))  # not `tensorboard` as the run's name
    # TensorBoard names a run by its events folder's path below --logdir: the run's own name ends it.
    for logdir in (run_dir, run_dir.parents[1], run_dir / "tensorboard"):
        assert folder.relative_to(logdir).parts[-1] == run_dir.name


def test_loss_curves_come_first_with_train_beside_val(run_dir):
    events = loaded(events_folder(run_dir))
    scalars, images = events.Tags()["scalars"], events.Tags()["images"]
    assert {curve_tag("total", "train"), curve_tag("total", "val"), BEST_VAL} <= set(scalars)
    assert {curve_tag("recon", "train"), curve_tag("recon", "val"), curve_tag("recon_sse", "val")} <= set(scalars)
    assert {LEARNING_RATE, EPOCH_SECONDS, "5_final/test_loss"} <= set(scalars)
    assert "reconstructions/test" in images
    # TensorBoard groups tags by their first part, sorts the groups digits first and opens the first two.
    groups = sorted({tag.split("/")[0] for tag in [*scalars, *images]})
    assert groups[:2] == ["1_loss", "2_terms"]
    assert all(group[0].isalpha() for group in {tag.split("/")[0] for tag in images})  # pictures after the scalars
    terms = sorted(tag for tag in scalars if tag.startswith("2_terms/"))
    assert terms.index(curve_tag("recon", "val")) == terms.index(curve_tag("recon", "train")) + 1  # side by side


def test_hparams_name_the_key_figures_and_each_term_has_one_chart(run_dir):
    events = loaded(events_folder(run_dir))
    experiment = events.PluginTagToContent("hparams")["_hparams_/experiment"]
    metrics = {info.name.tag for info in plugin_data_pb2.HParamsPluginData.FromString(experiment).experiment.metric_infos}
    assert {BEST_VAL, curve_tag("total", "val"), "5_final/test_loss", "5_final/test_recon_sse"} <= metrics
    test_loss = json.loads((run_dir / "metrics.json").read_text())["test_loss"]
    assert events.Scalars("5_final/test_loss")[0].value == pytest.approx(test_loss)

    (config,) = events.Tensors("custom_scalars__config__")
    layout = layout_pb2.Layout.FromString(tensor_util.make_ndarray(config.tensor_proto).item())
    charts = {chart.title: list(chart.multiline.tag) for category in layout.category for chart in category.chart}
    assert list(charts)[0] == "total" and {"recon", "recon_sse"} <= set(charts)
    assert charts["recon"] == ["^2_terms/recon/train$", "^2_terms/recon/val$"]  # train and val in one chart


def test_a_run_keeps_writing_where_its_events_already_are(tmp_path):
    old = tmp_path / "old"
    (old / "tensorboard").mkdir(parents=True)
    (old / "tensorboard" / "events.out.tfevents.1.host.1.0").touch()  # written before this layout
    assert events_folder(old) == old / "tensorboard"
    renamed = tmp_path / "renamed"
    (renamed / "tensorboard" / "first-name").mkdir(parents=True)
    (renamed / "tensorboard" / "first-name" / "events.out.tfevents.1.host.1.0").touch()
    assert events_folder(renamed) == renamed / "tensorboard" / "first-name"  # its curves stay one run
    assert events_folder(tmp_path / "new") == tmp_path / "new" / "tensorboard" / "new"
