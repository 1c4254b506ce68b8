"""Binarized images (dataset.binarize) and the one-class protocol (dataset.include_classes):
draws in closed form, the fixed splits the same for every run, the training batches drawn anew,
and the classes kept where they should be."""

from __future__ import annotations

import pytest
import torch

from aecli.data.base import Dataset, Split
from aecli.data.binarize import DynamicallyBinarized, binarized
from aecli.data.subsets import include_classes
from aecli.errors import UserError


def grey_dataset(n=4000) -> Dataset:
    generator = torch.Generator().manual_seed(0)
    stored = torch.randint(0, 256, (n, 1, 4, 4), dtype=torch.uint8, generator=generator)
    labels = torch.arange(n) % 3
    split = Split(stored, labels)
    return Dataset("grey", split, Split(stored[:500], labels[:500]), Split(stored[:500], labels[:500]), "image")


def test_a_pixel_is_one_with_its_grey_level_as_probability():
    data = grey_dataset()
    static = binarized(data, "static")
    values = static.train.x
    assert set(values.unique().tolist()) <= {0.0, 1.0}
    grey = data.train.x
    # over many pixels of one grey level, the share of ones is that level (a binomial within 5 sd)
    level = grey.flatten() > 0.5
    share, p = values.flatten()[level].mean().item(), grey.flatten()[level].mean().item()
    assert abs(share - p) < 5 * (p * (1 - p) / level.sum().item()) ** 0.5


def test_dynamic_binarization_draws_training_batches_anew_and_fixes_val_and_test_for_every_run():
    data = grey_dataset()
    one, two = binarized(data, "dynamic"), binarized(data, "dynamic")
    assert isinstance(one, DynamicallyBinarized)
    torch.testing.assert_close(one.test.x, two.test.x)  # the same binary test set, whatever run draws it
    assert set(one.val.x.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(one.train.x, data.train.x)  # the training split stays grey...
    x = one.train.batch(slice(0, 64))
    first, second = one.training_batch(x), one.training_batch(x)  # ...and is drawn as it is handed out
    assert set(first.unique().tolist()) <= {0.0, 1.0} and not torch.equal(first, second)
    assert binarized(data, "none") is data


def test_include_classes_trains_on_those_alone_and_leaves_the_rest_in_test_as_anomalies():
    data = include_classes(grey_dataset(), [1], [])
    assert set(data.train.labels.tolist()) == {1} and set(data.val.labels.tolist()) == {1}
    assert set(data.test.labels.tolist()) == {0, 1, 2} and data.excluded_classes == (0, 2)
    with pytest.raises(UserError, match="include_classes and dataset.exclude_classes both"):
        include_classes(grey_dataset(), [1], [2])
    with pytest.raises(UserError, match="names class 7, which grey does not have; choose among 0, 1, 2"):
        include_classes(grey_dataset(), [7], [])
    with pytest.raises(UserError, match="names every class"):
        include_classes(grey_dataset(), [0, 1, 2], [])


def test_a_one_class_run_is_evaluated_by_anomaly_detection_not_by_probes(tmp_path):
    """include_classes=[d] trains on one class: evaluate scores the other classes as anomalies and
    leaves out the probes (a classifier needs two classes), with a note saying so."""
    import json

    from conftest import run_cli

    run = tmp_path / "one-class"
    run_cli("train", "dataset=digits", "dataset.include_classes=[0]", "trainer.epochs=2", "tsne.enabled=false",
            "log.num_reconstructions=0", f"hydra.run.dir={run}", cwd=tmp_path)
    result = run_cli("evaluate", f"run={run}", cwd=tmp_path)
    assert "note: the probes left out: the training split holds one class" in result.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"anomaly_auroc", "anomaly_auroc_knn", "anomaly_auroc_mahalanobis"} <= metrics.keys()
    assert "probe_linear_acc" not in metrics
