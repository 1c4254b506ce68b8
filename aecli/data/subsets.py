"""The two cuts every dataset takes, in one place (aecli.data.build_dataset): the first N training
samples (`dataset.train_size`) and the classes left out of training (`dataset.exclude_classes`)."""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from aecli.data.base import Dataset, Split
from aecli.errors import UserError


def exclude_classes(data: Dataset, classes: list[int]) -> Dataset:
    """`data` with the samples of `classes` removed from train and val (the test split keeps
    them: they are the anomalies `aecli evaluate` scores). Any labelled dataset; one place."""
    if not classes:
        return data
    _classes_present(data, "exclude_classes", classes)
    excluded = torch.tensor(sorted(set(classes)))
    kept = {name: _without(getattr(data, name), excluded) for name in ("train", "val")}
    if min(len(split) for split in kept.values()) == 0:
        raise UserError(
            f"dataset.exclude_classes={list(classes)} leaves no training or validation samples; keep at least one class"
        )
    return dataclasses.replace(data, **kept, excluded_classes=tuple(excluded.tolist()))


def include_classes(data: Dataset, classes: list[int], excluded: list[int]) -> Dataset:
    """`data` trained and validated on `classes` only (one-class anomaly detection): every other
    class leaves train and val, as if `dataset.exclude_classes` named it, and stays in test."""
    if not classes:
        return data
    if excluded:
        raise UserError("dataset.include_classes and dataset.exclude_classes both choose the training classes; "
                        "set one of them and leave the other at []")
    present = _classes_present(data, "include_classes", classes)
    others = [c for c in present if c not in set(classes)]
    if not others:
        raise UserError(f"dataset.include_classes={list(classes)} names every class; leave one out (or set it to [])")
    return exclude_classes(data, others)


def _classes_present(data: Dataset, key: str, classes: list[int]) -> list[int]:
    """The classes of `data` (every split's labels), after checking that it is labelled and has
    each of `classes` (`dataset.KEY` names them): a UserError saying which, else."""
    if data.train.labels is None:
        raise UserError(f"dataset.{key}={list(classes)} needs labelled data, but {data.name} has no labels; remove the key")
    present = sorted(set(torch.cat([s.labels for s in (data.train, data.val, data.test)]).unique().tolist()))
    unknown = [c for c in classes if c not in present]
    if unknown:
        raise UserError(
            f"dataset.{key} names class {unknown[0]}, which {data.name} does not have; "
            f"choose among {', '.join(map(str, present))}"
        )
    return present


def first_training_samples(data: Dataset, count: int | None) -> Dataset:
    """`data` with only the first `count` training samples (None: all); val and test unchanged."""
    if count is None or count >= len(data.train):
        return data
    return dataclasses.replace(data, train=data.train.rows(slice(count)))


def _without(split: Split, excluded: Tensor) -> Split:
    return split.rows(~torch.isin(split.labels, excluded.to(split.labels.device)))
