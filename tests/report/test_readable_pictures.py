"""Pictures a person reads: a table's reconstructions in standardized units with its column names,
latent plots coloured by every factor, closing pictures with no blank band under their title."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from conftest import REPO

from aecli.data import Dataset, Split, build_dataset
from aecli.report.figures import grid_figure, image_grid, traversal_figure
from aecli.report.latents import embed_codes, latent_figure
from aecli.report.pictures import PictureFiles
from aecli.report.reconstructions import reconstruction_figure

COLUMNS = ["alcohol", "malic_acid", "ash", "magnesium", "proline"]


def wine_table(tmp_path, normalize: str) -> Dataset:
    """A CSV whose last column lies near 1000 while the others are of order 1 to 100."""
    rng = np.random.default_rng(0)
    values = rng.normal(size=(200, 5)) * [0.8, 1.1, 0.3, 14, 300] + [13, 2.3, 2.4, 100, 1000]
    lines = [",".join([*COLUMNS, "cultivar"])] + [",".join([*(f"{v:.4f}" for v in row), str(i % 3)]) for i, row in enumerate(values)]
    (tmp_path / "wine.csv").write_text("\n".join(lines) + "\n")
    cfg = OmegaConf.load(REPO / "configs" / "dataset" / "csv.yaml")
    cfg = OmegaConf.merge(cfg, {"path": str(tmp_path / "wine.csv"), "label_column": "cultivar", "normalize": normalize})
    return build_dataset(cfg, OmegaConf.create({"root": None, "download": False}))


@pytest.mark.parametrize("normalize", ["standardize", "none"])
def test_a_tables_reconstructions_name_its_columns_in_standard_units(tmp_path, normalize):
    data = wine_table(tmp_path, normalize)
    x = data.test.batch(slice(8))
    figure = reconstruction_figure(data, data.test, x, x + 0.01 * data.train.x.std(0))
    panels = [ax for ax in figure.axes if ax.images and ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["input", "reconstruction", "reconstruction - input"]
    for ax in panels:
        assert [label.get_text() for label in ax.get_xticklabels()] == COLUMNS
    inputs = np.asarray(panels[0].images[0].get_array())
    assert inputs.shape == (8, 5)
    # Standardized by the training split: the column near 1000 spans no more than the others.
    spread = np.abs(inputs).max(0)
    assert spread.max() < 4 and spread[-1] < 3 * np.median(spread)
    raw = data.denormalize(x).numpy()
    mean, std = data.denormalize(data.train.x).numpy().mean(0), data.denormalize(data.train.x).numpy().std(0, ddof=1)
    np.testing.assert_allclose(inputs, (raw - mean) / std, rtol=1e-3, atol=1e-3)
    rows = [label.get_text() for label in panels[0].get_yticklabels()]
    assert rows[0] == f"0 ({data.class_name(int(data.test.labels[0]))})"  # the class beside each row


def test_latent_plot_colours_by_class_and_by_every_factor():
    rng = np.random.default_rng(0)
    codes = torch.from_numpy(rng.normal(size=(120, 2))).float()
    split = Split(codes, labels=(codes[:, 0] > 0).long(), factors=torch.stack([codes[:, 0], codes[:, 1] ** 2], 1))
    data = Dataset("own", split, split, split, kind="signal", factor_names=("size", "angle"), class_names=("small", "large"))
    figure = latent_figure(embed_codes(codes, "scatter", 120, 30.0, 0), split, data)
    titled = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titled == ["colour: class", "colour: size", "colour: angle"]
    colour_bars = sorted(ax.get_ylabel() for ax in figure.axes if not ax.get_title() and ax.get_ylabel())
    assert colour_bars == ["angle", "size"]  # one colour bar per factor, named
    assert figure.get_suptitle() == "120 test codes"

    one = latent_figure(embed_codes(codes, "scatter", 120, 30.0, 0), Split(codes, factors=split.factors[:, :1]),
                        Dataset("own", split, split, split, kind="signal", factor_names=("size",)))
    assert one.axes[0].get_title() == "120 test codes, colour: size"


def _title_gap(figure) -> float:
    """Pixels between the bottom of the figure's title and the top of everything else drawn."""
    renderer = figure.canvas.get_renderer()
    below = max(ax.get_tightbbox(renderer).y1 for ax in figure.axes)
    return figure._suptitle.get_window_extent(renderer).y0 - below


@pytest.mark.parametrize("picture", ["manifold", "traversal_curves", "traversal_grid"])
def test_a_closing_pictures_title_sits_just_above_it(tmp_path, picture, monkeypatch):
    if picture == "manifold":  # tall: a margin in figure fractions was an inch of white
        figure = grid_figure(image_grid([torch.rand(11, 1, 28, 28) for _ in range(11)]))
    elif picture == "traversal_grid":
        figure = grid_figure(image_grid([torch.rand(11, 1, 28, 28) for _ in range(2)]), ["z0", "z1"])
    else:
        figure = traversal_figure(np.linspace(0, 1, 20), torch.rand(3, 5, 20), torch.linspace(-3, 3, 5), "t")
    closed = []
    monkeypatch.setattr("aecli.report.pictures.plt.close", closed.append)
    PictureFiles(tmp_path, "run").save("picture.png", figure, 3)
    assert closed == [figure] and (tmp_path / "picture.png").is_file()
    figure.canvas.draw()
    assert 0 <= _title_gap(figure) <= 10  # 4 points at 100 dpi, not a band
