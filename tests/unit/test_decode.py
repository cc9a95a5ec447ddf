"""Bodies are decoded for learning whatever their Content-Encoding; bad input is never an error."""
from __future__ import annotations

import json

import pytest
from mitmproxy.net import encoding

from mimic_addon.learn.observation import Body, decode_body

DOC = {"id": 7, "name": "Ada", "tags": ["x"]}
RAW = json.dumps(DOC).encode()


@pytest.mark.parametrize("enc", ["gzip", "br", "zstd", "deflate"])
def test_encoded_json_is_decoded(enc: str) -> None:
    raw = encoding.encode(RAW, enc)
    assert decode_body(Body(raw, enc, "application/json", len(raw))) == (DOC, True)


@pytest.mark.parametrize("body", [
    Body(b"{not json", "", "application/json", 9),
    Body(b"\x1f\x8b garbage", "gzip", "application/json", 11),
    Body(bytes(range(256)), "", "image/png", 256),
    Body(b"[" * 200_000 + b"]" * 200_000, "", "application/json", 400_000),
    Body(None, "", "application/json", 10_000_000),
    Body(b"", "", "", 0),
])
def test_bad_or_opaque_bodies_are_not_json(body: Body) -> None:
    assert decode_body(body) == (None, False)


def test_json_without_a_json_content_type_is_sniffed() -> None:
    assert decode_body(Body(b'  {"a": 1}', "", "text/plain", 10)) == ({"a": 1}, True)
    assert decode_body(Body(b'{"a": 1}', "", "text/html", 8)) == (None, False)
