"""Where a picture goes: TensorBoard under its tag and a PNG file in the run folder, written
atomically (a full disk leaves the previous file, never a truncated one)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from aecli.report.figures import plt
from aecli.runs.store import atomic_write

PNG_SIDE = 120  # a PNG's shorter side is enlarged to at least this many pixels (a row of 3 x 3 kernels)


@dataclass
class PictureFiles:
    """Where the closing pictures also go as PNG files, titled with the run's name and the epoch."""

    folder: Path
    run_name: str

    def save(self, name: str, figure: plt.Figure, step: int) -> None:
        try:
            title_above(figure, f"{self.run_name}, epoch {step}")
            atomic_write(self.folder / name, lambda handle: figure.savefig(handle, format="png", bbox_inches="tight"))
        finally:
            plt.close(figure)


TITLE_GAP_INCHES = 4 / 72  # between the title and the top of what is drawn below it


def title_above(figure: plt.Figure, text: str) -> None:
    """`text` as the figure's title (above its own title, if it has one), placed once the layout has
    settled just above the topmost thing drawn: the panels' titles and colour bars are not
    overlapped, and a saved tight bounding box holds no blank band between title and picture."""
    own = figure.get_suptitle()
    figure.suptitle("")  # measured without it: the title goes where it was
    figure.draw_without_rendering()
    top = figure.get_tightbbox().y1 + TITLE_GAP_INCHES  # inches from the figure's bottom
    figure.suptitle(f"{text}\n{own}" if own else text, y=top / figure.get_figheight(), va="bottom", fontsize=9)


def write_picture(writer: Any, tag: str, picture: Tensor | plt.Figure, png: Path, step: int) -> None:
    """`picture` to TensorBoard under `tag` and to `png`: an image grid (C, H, W) in [0, 1],
    enlarged for the file so that small filters stay visible, or a matplotlib figure."""
    if isinstance(picture, Tensor):
        scale = max(1, -(-PNG_SIDE // min(picture.shape[1:])))  # ceil: the shorter side reaches PNG_SIDE
        enlarged = picture.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
        image = enlarged[0].numpy() if enlarged.shape[0] == 1 else enlarged.permute(1, 2, 0).numpy()
        plt.imsave(png, image, cmap="gray", vmin=0.0, vmax=1.0)
        writer.add_image(tag, picture, step)
        return
    picture.savefig(png, dpi=120, bbox_inches="tight")
    writer.add_figure(tag, picture, step)
