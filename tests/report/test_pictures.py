"""Pictures as files, the projector for 2-D codes, PCA plots with equal axes."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from aecli.report.figures import grid_figure, image_grid
from aecli.report.latents import add_projector_embedding, embed_codes, latent_figure
from aecli.report.pictures import PictureFiles


def test_a_picture_file_is_titled_upscaled_and_written_whole(tmp_path):
    grid = image_grid([torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8)])
    figure = grid_figure(grid, ["input", "output"])
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["input", "output"]
    PictureFiles(tmp_path, "12-00-00_mnist-mlp").save("reconstructions.png", figure, 7)
    assert figure._suptitle.get_text() == "12-00-00_mnist-mlp, epoch 7"
    width, height = Image.open(tmp_path / "reconstructions.png").size
    assert width > 2 * grid.shape[2] and height > 2 * grid.shape[1]  # upscaled
    assert [p.name for p in tmp_path.iterdir()] == ["reconstructions.png"]  # no temporary file left


def test_the_projector_gets_three_columns_for_a_2d_code(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path)) as writer:
        add_projector_embedding(writer, np.ones((5, 2), dtype=np.float32), [str(i) for i in range(5)], None, None, 1)
    (tensors,) = tmp_path.rglob("tensors.tsv")
    rows = tensors.read_text().splitlines()
    assert len(rows) == 5 and all(row.split("\t") == ["1.0", "1.0", "0.0"] for row in rows)


def test_pca_axes_have_equal_scales_and_each_components_share():
    codes = torch.from_numpy(np.random.default_rng(0).normal(size=(200, 4)) * [5.0, 1.0, 0.5, 0.1]).float()
    embedding = embed_codes(codes, "pca", 200, 30.0, 0)
    assert embedding.axis_labels[0].startswith("PC 1 (") and "%" in embedding.axis_labels[1]
    from aecli.data import Split

    figure = latent_figure(embedding, Split(codes[:, :1]), None)
    assert figure.axes[0].get_aspect() == 1.0
