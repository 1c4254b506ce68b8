"""aecli evaluate run=RUN_DIR (dispatch and help are in place; the work lands with its own issue)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from aecli.errors import UserError, report_user_errors


@hydra.main(version_base="1.3", config_path="pkg://aecli.configs", config_name="evaluate")
@report_user_errors("evaluate")
def main(cfg: DictConfig) -> None:
    raise UserError("'aecli evaluate' is not yet available in this version of aecli")
