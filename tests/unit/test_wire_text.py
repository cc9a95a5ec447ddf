"""Bytes that are not UTF-8 in paths (issue 16): storable and printable, never an encoding error."""
from __future__ import annotations

from mimic_addon.control.entries import Captured, build_row
from mimic_addon.model.wire_text import clean_text, percent_escape_bad_bytes
from mimic_addon.serve.replay import request_parts
from mimic_addon.store import Store

RAW_PATH = b"/files/\xff\xfe/caf\xc3\xa9".decode("utf-8", "surrogateescape")  # bad bytes, then valid UTF-8


def test_bad_bytes_are_escaped_or_replaced_and_good_text_is_kept() -> None:
    assert percent_escape_bad_bytes(RAW_PATH) == "/files/%FF%FE/café"
    assert clean_text(RAW_PATH) == "/files/\ufffd\ufffd/café"
    for same in ("/users/1", "/café/ü"):
        assert percent_escape_bad_bytes(same) is same and clean_text(same) is same


def test_a_raw_path_does_not_stop_the_request_log_batch(tmp_path) -> None:
    def captured(path: bytes) -> Captured:
        return Captured.from_raw((1.0, b"http", "api.test", 80, b"GET", path, ((b"host", b"api.test"),), b"", 200,
                                  ((b"content-type", b"application/json"),), b'{"a": 1}', 1.1, {},
                                  ("127.0.0.1", 1), None))
    rows = [build_row(captured(p), None) for p in (b"/files/\xff\xfe?q=\xfe", b"/users/1")]
    store = Store(f"sqlite:///{tmp_path / 'log.db'}")
    try:
        assert len(store.add_requests(rows, keep=100)) == 2
    finally:
        store.close()
    assert rows[0]["path"] == "/files/%FF%FE"


def test_recordings_keep_raw_paths_storable() -> None:
    assert request_parts("GET", RAW_PATH + "?x=1", [], None, 1024)["path"] == "/files/%FF%FE/café"
