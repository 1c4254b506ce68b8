"""aecli visualize-latents run=RUN_DIR (dispatch and help are in place; the work lands with its own issue)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from aecli.errors import UserError, report_user_errors


@hydra.main(version_base="1.3", config_path="pkg://aecli.configs", config_name="visualize_latents")
@report_user_errors("visualize-latents")
def main(cfg: DictConfig) -> None:
    raise UserError("'aecli visualize-latents' is not yet available in this version of aecli")
