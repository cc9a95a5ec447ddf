"""Decompression bombs: decoding stops at the limit, whatever the sender packed (issue 16)."""
from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import brotli
import pytest
import zstandard
from mitmproxy.net import encoding

from mimic_addon.learn.observation import Body, decode_body
from mimic_addon.model import bounded_decode
from mimic_addon.model.bounded_decode import TooLarge
from mimic_addon.serve.replay import make_recording, request_parts

BOMB_SIZE = 50 * 1024 * 1024  # 50 MB of JSON, mostly zeros: ~50 KB gzip, a few KB of brotli / zstd
LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def zeros() -> bytes:
    return b'{"a": "' + b"0" * BOMB_SIZE + b'"}'


def peak_bytes(work: Callable[[], Any]) -> int:
    """The most memory Python allocated while `work` ran (decoded bytes objects included)."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _bombs(zeros: bytes) -> dict[str, bytes]:
    return {
        "gzip": gzip.compress(zeros, compresslevel=9, mtime=0),
        "deflate": zlib.compress(zeros, 9),
        "br": brotli.compress(zeros, quality=5),
        "zstd": zstandard.ZstdCompressor(level=3).compress(zeros),
    }


@pytest.fixture(scope="module")
def bombs(zeros: bytes) -> dict[str, bytes]:
    return _bombs(zeros)


@pytest.mark.parametrize("enc", ["gzip", "deflate", "br", "zstd"])
def test_a_bomb_is_refused_at_the_limit(bombs: dict[str, bytes], enc: str, monkeypatch) -> None:
    raw = bombs[enc]
    assert len(raw) < LIMIT * 16  # small on the wire: the wire-size cap lets it through
    # the whole body is never produced: any decoder call that returns more than limit + 1 bytes fails the test
    produced: list[int] = []
    real_zlib = zlib.decompressobj

    class Spy:
        def __init__(self, *a) -> None:
            self.d = real_zlib(*a)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            out = self.d.decompress(data, max_length)
            produced.append(len(out))
            return out

        @property
        def unconsumed_tail(self) -> bytes:
            return self.d.unconsumed_tail

    monkeypatch.setattr(bounded_decode.zlib, "decompressobj", Spy)
    with pytest.raises(TooLarge):
        bounded_decode.decode(raw, enc, LIMIT)
    assert all(n <= LIMIT + 1 for n in produced)


def test_decoding_under_the_limit_matches_mitmproxy() -> None:
    doc = json.dumps({"a": list(range(100))}).encode()
    for enc in ("gzip", "deflate", "br", "zstd", "identity"):
        assert bounded_decode.decode(encoding.encode(doc, enc), enc, LIMIT) == doc
    assert bounded_decode.decode(zlib.compress(doc)[2:-4], "deflate", LIMIT) == doc  # raw deflate
    assert bounded_decode.decode(brotli.compress(gzip.compress(doc)), "gzip, br", LIMIT) == doc  # chained
    assert bounded_decode.decode(doc, "", len(doc)) == doc
    with pytest.raises(TooLarge):
        bounded_decode.decode(doc, "", len(doc) - 1)


@pytest.mark.parametrize("raw, enc", [(b"\x1f\x8b garbage", "gzip"), (b"nope", "br"), (b"nope", "zstd"),
                                      (b"abc", "compress"), (brotli.compress(b"x" * 1000)[:-3], "br")])
def test_bad_input_is_a_value_error(raw: bytes, enc: str) -> None:
    with pytest.raises(ValueError):
        bounded_decode.decode(raw, enc, LIMIT)


def test_the_learner_learns_a_bomb_as_too_large(bombs: dict[str, bytes]) -> None:
    for enc, raw in bombs.items():
        body = Body(raw, enc, "application/json", len(raw), limit=LIMIT)
        result: list[Any] = []
        assert peak_bytes(lambda: result.append(decode_body(body))) < 4 * LIMIT + len(raw)
        assert result == [(None, False)]
    small = gzip.compress(b'{"ok": true}')
    assert decode_body(Body(small, "gzip", "application/json", len(small), limit=LIMIT)) == ({"ok": True}, True)


def test_recordings_keep_no_inflated_bomb(bombs: dict[str, bytes]) -> None:
    raw = bombs["gzip"]
    fields = [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")]
    recs: list[Any] = []
    peak = peak_bytes(lambda: recs.append(make_recording(
        host="api.test", method="POST", target="/upload", request_fields=fields, request_raw=raw, status=200,
        response_fields=fields, response_raw=raw, latency_ms=1.0, ts=1.0, max_body=LIMIT * 16)))
    assert peak < 4 * LIMIT * 16
    assert recs[0].response_body is None and recs[0].body is None
    assert request_parts("POST", "/upload", fields, raw, LIMIT * 16)["body"] is None


def test_the_inspector_log_shows_a_bomb_as_too_large(bombs: dict[str, bytes]) -> None:
    from mimic_addon.control.entries import CAPTURE_LIMIT, DECODED_LIMIT, _message

    raw = bombs["br"]
    assert len(raw) <= CAPTURE_LIMIT
    fields = [(b"Content-Type", b"application/json"), (b"Content-Encoding", b"br")]
    out: list[dict] = []
    assert peak_bytes(lambda: out.append(_message(fields, raw, len(raw)))) < 4 * DECODED_LIMIT
    assert out[0]["body"] is None and "too large" in out[0]["note"]
