"""Reading capture files into observations, fast.

mitmproxy's `FlowReader` parses every record completely and builds a `Flow` from it, which caps
reading at about 2,000 flows/s. For flow files of the current format we find each record
ourselves, parse only its `request` and `response` and build the observation straight from those
(`observation.from_state`). Records of older formats go the way `FlowReader` takes them
(`tnetstring.loads` + `compat.migrate_flow`); HAR entries go through mitmproxy's HAR reader one by
one (`learn/har.py`). (`mitmproxy.io` is imported only for those: it takes a fifth of a second.)
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, Iterator, cast

from mitmproxy import version

from .observation import Observation, from_flow, from_state

CHUNK = 1 << 20
_MAX_PREFIX = 12  # digits in a tnetstring length prefix, as mitmproxy allows


class CaptureError(Exception):
    """Nothing could be read from the file: it is not a readable flow or HAR file."""


class CaptureReader:
    """Observations from one capture file; `offset` is how many of its bytes were consumed so far.

    What cannot be read is skipped and told in `problems` (one line each, naming the record's byte
    offset or the HAR entry's index): a record that is not a flow, a HAR entry without a URL, a file
    cut off in the middle of a record (an interrupted capture: everything before the cut is read).
    Only a file from which nothing at all could be read raises CaptureError."""

    def __init__(self, path: Path, max_body: int) -> None:
        self.path = path
        self.max_body = max_body
        self.offset = 0
        self.problems: list[str] = []
        self.read = 0  # observations and exchanges read (a HAR entry without an answer counts too)

    def __iter__(self) -> Iterator[Observation]:
        try:
            with self.path.open("rb") as f:
                head = f.peek(4)[:4]
                if head[:1].isdigit():
                    yield from self._flow_file(f)
                elif head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"") or head[:2] in (b"\xff\xfe", b"\xfe\xff"):
                    yield from self._har(f)
                else:
                    raise CaptureError(f"{self.path}: not a mitmproxy flow file nor a HAR file")
        except OSError as e:
            raise CaptureError(f"{self.path}: {e.strerror or e}") from e
        if self.problems and not self.read:
            raise CaptureError(f"{self.path}: nothing could be read: {self.problems[0]}")

    def _har(self, f: BinaryIO) -> Iterator[Observation]:
        from . import har

        data = f.read()
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with its byte order mark (PowerShell writes so)
            size = len(data)
            try:
                data = data.decode("utf-16").encode("utf-8")
            except UnicodeDecodeError as e:
                raise CaptureError(f"{self.path}: not a HAR file (not UTF-16 after its byte order mark: {e})") from e
            self.offset = size
        if not data.strip(b"\xef\xbb\xbf \t\r\n"):
            self.offset = len(data)
            return
        try:
            items = har.load(data, self.problems)
        except ValueError as e:
            raise CaptureError(f"{self.path}: {e}") from e
        for flow in har.flows(items, self.problems):
            self.read += 1
            self.offset = len(data) * self.read // max(len(items), 1)  # (progress: a HAR is parsed at once)
            obs = from_flow(flow, self.max_body)
            if obs is not None:
                yield obs
        self.offset = len(data)

    def _flow_file(self, f: BinaryIO) -> Iterator[Observation]:
        buf, base, pos = b"", 0, 0  # buf holds the file from byte `base`; the next record is at pos
        while True:
            self.offset = base + pos
            try:
                if len(buf) - pos <= _MAX_PREFIX:
                    buf, base, pos = buf[pos:] + f.read(max(CHUNK, _MAX_PREFIX + 1)), base + pos, 0
                    if not buf:
                        return
                start, end = _record_span(buf, pos)
                if end >= len(buf):  # the record runs past what is buffered
                    more = f.read(max(CHUNK, end + 1 - len(buf)))
                    buf, base, start, end, pos = buf[pos:] + more, base + pos, start - pos, end - pos, 0
                    if end >= len(buf):
                        raise ValueError(f"the file ends inside a record of {end + 1 - pos} bytes "
                                         "(an interrupted capture?)")
            except (ValueError, IndexError) as e:  # no record boundary to go on from
                rest = base + len(buf) - self.offset + len(f.read())
                self.problems.append(f"invalid flow data at byte {self.offset}: {e}; "
                                     f"the last {rest} bytes were not read")
                return
            try:
                obs = self._record(buf, pos, start, end)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError, UnicodeError) as e:
                self.problems.append(f"record at byte {self.offset} skipped: invalid flow data: {e!r}")
            else:
                self.read += 1
                if obs is not None:
                    yield obs
            pos = end + 1

    def _record(self, buf: bytes, pos: int, start: int, end: int) -> Observation | None:
        """The observation from the record at buf[pos:end + 1] (payload from `start`, tag at `end`)."""
        if buf[end] != ord("}"):
            raise ValueError("a record is not a flow")
        fields = _dict_spans(buf, start, end)
        version_span = fields.get(b"version")
        if version_span is None or _value(buf, *version_span) != version.FLOW_FORMAT_VERSION:
            from mitmproxy.io import compat, tnetstring

            loaded = tnetstring.loads(buf[pos:end + 1])
            assert isinstance(loaded, dict)  # its type tag, checked above, is a dictionary's
            # (a migrated state has text keys only: the old formats' byte keys are converted)
            state = cast(dict[str, Any], compat.migrate_flow(loaded))
            return from_state(state, self.max_body) if state["type"] == "http" else None
        if _value(buf, *fields[b"type"]) != "http":
            return None
        state = {"request": _message(buf, *fields[b"request"]), "response": _message(buf, *fields[b"response"])}
        return from_state(state, self.max_body)


def _record_span(buf: bytes, i: int) -> tuple[int, int]:
    """(payload start, index of the type tag) of the record at `i`; the tag may lie beyond buf."""
    colon = buf.find(b":", i, i + _MAX_PREFIX + 1)
    if colon < 0:
        raise ValueError("missing or invalid length prefix")
    start = colon + 1
    end = start + int(buf[i:colon])
    if end < start:
        raise ValueError(f"invalid length prefix: {buf[i:colon]!r}")
    return start, end


def _dict_spans(buf: bytes, start: int, end: int) -> dict[bytes, tuple[int, int]]:
    """String keys of a tnetstring dict (as bytes) -> the spans of their values, left unparsed."""
    out: dict[bytes, tuple[int, int]] = {}
    i = start
    while i < end:
        colon = buf.index(58, i, end)  # b":"
        ks = colon + 1
        ke = ks + int(buf[i:colon])
        colon = buf.index(58, ke + 1, end)
        vs = colon + 1
        ve = vs + int(buf[ke + 1:colon])
        if not ks <= ke < vs <= ve < end:
            raise ValueError("invalid length prefix")
        if buf[ke] == 59:  # ;
            out[buf[ks:ke]] = vs, ve
        i = ve + 1
    return out


def _message(buf: bytes, start: int, end: int) -> dict[str, Any] | None:
    """A request or response state (or None)."""
    if buf[end] != 125:  # }
        return _value(buf, start, end)
    return {k.decode(): (_header_fields if k == b"headers" else _value)(buf, vs, ve)
            for k, (vs, ve) in _dict_spans(buf, start, end).items()}


def _header_fields(buf: bytes, start: int, end: int) -> Any:
    """`_value` for a list of [name, value] pairs, unrolled: headers are most of a flow's values."""
    if buf[end] != 93:  # ]
        return _value(buf, start, end)
    fields = []
    i = start
    while i < end:
        colon = buf.index(58, i, end)
        ps = colon + 1
        pe = ps + int(buf[i:colon])
        colon = buf.index(58, ps, end)
        ns = colon + 1
        ne = ns + int(buf[ps:colon])
        colon = buf.index(58, ne + 1, end)
        vs = colon + 1
        ve = vs + int(buf[ne + 1:colon])
        if not (ps <= ns <= ne < vs <= ve == pe - 1 and pe < end
                and buf[pe] == 93 and buf[ne] == 44 and buf[ve] == 44):
            return _value(buf, start, end)  # not plain pairs of bytes: parse it the long way
        fields.append([buf[ns:ne], buf[vs:ve]])
        i = pe + 1
    return fields


def _next(buf: bytes, i: int, end: int) -> tuple[Any, int]:
    """The value of the tnetstring at `i` (which must end before `end`) and where the next begins."""
    colon = buf.index(58, i, end)  # b":"
    if colon - i > _MAX_PREFIX:
        raise ValueError("missing or invalid length prefix")
    start = colon + 1
    tag_at = start + int(buf[i:colon])
    if not start <= tag_at < end:
        raise ValueError(f"invalid length prefix: {buf[i:colon]!r}")
    tag = buf[tag_at]
    if tag == 44:  # , (inlined: most values are bytes or strings)
        return buf[start:tag_at], tag_at + 1
    if tag == 59:  # ;
        return buf[start:tag_at].decode("utf8"), tag_at + 1
    return _value(buf, start, tag_at), tag_at + 1


def _value(buf: bytes, start: int, end: int) -> Any:
    """The value with payload buf[start:end] and type tag buf[end], as `tnetstring.loads` gives it."""
    tag = buf[end]
    if tag == 44:  # ,
        return buf[start:end]
    if tag == 59:  # ;
        return buf[start:end].decode("utf8")
    if tag == 93:  # ]
        items = []
        while start < end:
            item, start = _next(buf, start, end)
            items.append(item)
        return items
    if tag == 125:  # }
        d = {}
        while start < end:
            key, start = _next(buf, start, end)
            if start >= end:
                raise ValueError("a dict key without a value")
            d[key], start = _next(buf, start, end)
        return d
    if tag == 35:  # #
        return int(buf[start:end])
    if tag == 94:  # ^
        return float(buf[start:end])
    if tag == 33:  # !
        literal = buf[start:end]
        if literal not in (b"true", b"false"):
            raise ValueError(f"invalid boolean literal: {literal!r}")
        return literal == b"true"
    if tag == 126:  # ~
        if start != end:
            raise ValueError("invalid null literal")
        return None
    raise ValueError(f"unknown type tag: {tag}")
