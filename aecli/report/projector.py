"""TensorBoard's embedding projector: a split's codes with their labels (the class name, or the
factor values) and, for images, thumbnails, written beside the run's other event files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from aecli.data import Dataset, Split
from aecli.private_apis import has_projector_config, set_projector_config


def embedding_metadata(split: Split, index: np.ndarray, data: Dataset) -> tuple[list, list[str] | None]:
    """Per-point labels for TensorBoard's projector: the class name, or the factor values."""
    if split.labels is not None:
        return [data.class_name(int(v)) for v in split.labels[index].tolist()], None
    if split.factors is not None:
        rows = [[f"{v:.4g}" for v in row] for row in split.factors[index].tolist()]
        return rows, list(data.factor_names)
    return [str(i) for i in index.tolist()], None


PROJECTOR_MIN_DIM = 3  # TensorBoard's projector needs 3 columns; fewer are padded with zeros


def add_projector_embedding(
    writer: Any, codes: np.ndarray, metadata: list, header: list[str] | None, thumbnails: Tensor | None, step: int
) -> None:
    """Write the projector embedding `test_codes` at `step`, replacing an earlier one at that step
    and keeping the other entries of projector_config.pbtxt. Codes of fewer than 3 dimensions get
    zero columns (the projector shows them flat, as they are).

    SummaryWriter rewrites that file with only the embeddings it added itself, so a second
    command on the same run would otherwise hide what train wrote; its buffer is seeded with
    the entries already on disk.
    """
    import contextlib
    import io

    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    tag = "test_codes"
    config_path = Path(writer.get_logdir()) / "projector_config.pbtxt"
    if config_path.is_file() and not has_projector_config(writer):
        on_disk = text_format.Parse(config_path.read_text(), ProjectorConfig())
        kept = ProjectorConfig()
        ours = f"{step:05d}/{tag}/"
        kept.embeddings.extend(e for e in on_disk.embeddings if not e.tensor_path.startswith(ours))
        set_projector_config(writer, kept)
    if codes.shape[1] < PROJECTOR_MIN_DIM:  # the projector draws a blank canvas for 1-D and 2-D points
        codes = np.pad(codes, ((0, 0), (0, PROJECTOR_MIN_DIM - codes.shape[1])))
    # torch prints a warning when the step's folder exists: here that is the point (a redraw).
    with contextlib.redirect_stdout(io.StringIO()):
        writer.add_embedding(
            torch.from_numpy(codes), metadata=metadata, metadata_header=header,
            label_img=thumbnails, tag=tag, global_step=step,
        )
