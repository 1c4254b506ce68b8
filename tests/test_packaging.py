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


def test_in_ci_a_skipped_guarantee_is_a_failure(monkeypatch):
    """.ci/run sets AECLI_REQUIRE_GUARANTEES=1: the MNIST, full-disk and read-only-mount tests that
    back the README's guarantees must run there; elsewhere they may skip with their reason."""
    import pytest

    from conftest import REQUIRE_GUARANTEES, skip_guarantee

    assert f"export {REQUIRE_GUARANTEES}=1" in (REPO / ".ci" / "run").read_text()
    monkeypatch.setenv(REQUIRE_GUARANTEES, "1")
    with pytest.raises(pytest.fail.Exception, match="MNIST files not found"):
        skip_guarantee("MNIST files not found")
    monkeypatch.delenv(REQUIRE_GUARANTEES)
    with pytest.raises(pytest.skip.Exception):
        skip_guarantee("MNIST files not found")
