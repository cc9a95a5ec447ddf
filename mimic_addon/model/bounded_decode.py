"""Content-Encoding decoding with a cap on the decoded size (decompression bombs).

mitmproxy's `encoding.decode` (behind `.content`, `.text`, `get_content()`) inflates a body whole: a
1 MB gzip body of zeros becomes 1 GB in memory. Here every decoder streams and stops once more than
`limit` bytes came out, raising `TooLarge`; so the work done is bounded by the limit, not by what the
sender packed. Encodings are those mitmproxy decodes (gzip, deflate, br, zstd, identity), also chained
("gzip, br": undone right to left).
"""
from __future__ import annotations

import io
import zlib

import brotli
import zstandard

_CHUNK = 64 * 1024


class TooLarge(ValueError):
    """The decoded body would be larger than the limit."""


def decode(raw: bytes, content_encoding: str, limit: int) -> bytes:
    """`raw` with its Content-Encoding undone, at most `limit` bytes.

    Raises `TooLarge` past the limit and `ValueError` for a body that cannot be decoded (bad data or an
    unknown encoding)."""
    data = raw
    for name in reversed([e.strip().lower() for e in content_encoding.split(",") if e.strip()]):
        data = _decoder(name)(data, limit)
    if len(data) > limit:
        raise TooLarge(f"body of {len(data)} bytes is over the limit of {limit}")
    return data


def _decoder(name: str):
    try:
        return _DECODERS[name]
    except KeyError:
        raise ValueError(f"unknown content encoding {name!r}") from None


def _identity(data: bytes, limit: int) -> bytes:
    return data


def _zlib(data: bytes, limit: int, wbits: int) -> bytes:
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as e:
        raise ValueError(f"cannot inflate: {e}") from e
    if len(out) > limit or d.unconsumed_tail:
        raise TooLarge(f"inflates to more than {limit} bytes")
    return out


def _gzip(data: bytes, limit: int) -> bytes:
    return _zlib(data, limit, 47) if data else b""  # 32 + 15: gzip or zlib header, detected (as mitmproxy does)


def _deflate(data: bytes, limit: int) -> bytes:
    if not data:
        return b""
    try:
        return _zlib(data, limit, 15)
    except TooLarge:
        raise
    except ValueError:
        return _zlib(data, limit, -15)  # raw deflate, without zlib header (some servers send it)


def _brotli(data: bytes, limit: int) -> bytes:
    if not data:
        return b""
    d = brotli.Decompressor()
    try:
        out = d.process(data, output_buffer_limit=limit + 1)
    except brotli.error as e:
        raise ValueError(f"cannot decode brotli: {e}") from e
    if len(out) > limit:
        raise TooLarge(f"brotli body decodes to more than {limit} bytes")
    if not d.is_finished():
        raise ValueError("truncated brotli body")
    return out


def _zstd(data: bytes, limit: int) -> bytes:
    if not data:
        return b""
    parts: list[bytes] = []
    size = 0
    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True) as reader:
            while chunk := reader.read(min(_CHUNK, limit + 1 - size)):
                parts.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"zstd body decodes to more than {limit} bytes")
    except zstandard.ZstdError as e:
        raise ValueError(f"cannot decode zstd: {e}") from e
    return b"".join(parts)


_DECODERS = {
    "identity": _identity, "none": _identity,
    "gzip": _gzip, "x-gzip": _gzip,
    "deflate": _deflate, "deflateraw": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}
