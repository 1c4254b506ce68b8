"""A non-editable install must carry every subpackage and every config file."""

from __future__ import annotations

import pytest

from conftest import REPO

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(path.parent.relative_to(REPO).parts) for path in (REPO / "aecli").rglob("__init__.py")
    }
    assert on_disk <= listed, f"add to pyproject.toml [tool.setuptools] packages: {sorted(on_disk - listed)}"
    assert "aecli.configs" in listed
