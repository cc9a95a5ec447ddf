"""Shared by the addon tests (mitmproxy's taddons/tflow harness): a fresh SQLite store path."""
from __future__ import annotations

import pytest


@pytest.fixture
def db(tmp_path) -> str:
    return str(tmp_path / "mimic.db")
