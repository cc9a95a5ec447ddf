"""The type hints are checked: mypy, configured in pyproject.toml ([tool.mypy]), finds no error."""
from __future__ import annotations

from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api")  # (the dev extra installs it)

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_finds_no_error(monkeypatch):
    # From the repository's root, as `mypy` alone runs there: the configuration's `files` are relative
    # to it, and so is the default cache (.mypy_cache, which mypy keeps out of git with a .gitignore
    # of its own).
    monkeypatch.chdir(ROOT)
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), "--no-error-summary"])
    assert status == 0 and not out.strip(), f"mypy (exit {status}):\n{out}{err}"
