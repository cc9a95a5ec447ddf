"""HAR entries as mitmproxy flows, as leniently as the tools that write HAR files.

mitmproxy's HAR reader (`mitmproxy.io.har.request_to_flow`) turns one entry into a flow, but its
`FlowReader` gives up on the whole file at the first entry lacking a field the HAR spec requires
and not every tool writes (`startedDateTime`, `httpVersion`, `headers`...). Here each entry is
first completed with sane defaults (an unknown time gives no latency, not a made-up one), then
handed to mitmproxy's reader alone; an entry that still cannot be read (no URL, no status) is
skipped and told, naming its index and field, and the others are read.
"""
from __future__ import annotations

import json
import re
import urllib.parse
from datetime import datetime
from typing import Any, Iterator

from mitmproxy import http

UNKNOWN_TIME = "1970-01-01T00:00:00+00:00"  # timestamp 0: "not known" to the learner (no latency)


class EntryError(ValueError):
    """An entry lacks something no default can stand in for."""


class NotHttp(ValueError):
    """An entry of another scheme than HTTP (`data:`, `blob:`, `chrome-extension:` ...), or a proxy's
    `CONNECT`: browsers and debugging proxies log them beside the requests; they are no API traffic,
    and are left out without a word."""


_WEBSOCKET = {"ws": "http", "wss": "https"}  # a WebSocket's opening handshake is an HTTP request
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"  # (what a URL may hold as it is: only other characters are escaped)


def load(data: bytes, problems: list[str] | None = None) -> list[Any]:
    """The entries of a HAR document; ValueError when it is not one (not JSON, no `log.entries`).
    A file cut short (a browser or a capture killed while writing) gives the entries written
    whole before the cut, and the cut goes to `problems`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"not a HAR file (not UTF-8: {e})") from e
    try:
        doc = json.loads(text)
    except RecursionError:  # nested too deep somewhere: the entries are read one by one, that one skipped
        items, cut = _entries_before_cut(text, problems)
        if items is None:
            raise ValueError("not a HAR file (JSON nested too deep outside log.entries)") from None
        if cut is not None and problems is not None:
            whole = sum(item is not None for item in items)  # (a skipped entry holds its place as None)
            told = "the entry before the cut is read" if whole == 1 else f"the {whole} entries before the cut are read"
            problems.append(f"HAR file cut short (byte {_byte(data, text, cut)}): {told}")
        return items
    except json.JSONDecodeError as e:
        items, _ = _entries_before_cut(text, problems)
        if items is None:
            raise ValueError(f"not a HAR file (invalid JSON: {e})") from e
        if problems is not None:
            problems.append(f"HAR file cut short ({e.msg}: byte {_byte(data, text, e.pos)}): the {len(items)} "
                            "entries before the cut are read")
        return items
    log = doc.get("log") if isinstance(doc, dict) else None
    items = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(items, list):
        raise ValueError("not a HAR file (no log.entries list)")
    return items


def _byte(data: bytes, text: str, pos: int) -> int:
    """The file's byte offset of `text[pos]` (`text`: `data` decoded, without its byte order mark)."""
    return len(data) - len(text.encode("utf-8")) + len(text[:pos].encode("utf-8"))


_ENTRIES = re.compile(r'"entries"\s*:\s*\[')


def _entries_before_cut(text: str, problems: list[str] | None = None) -> tuple[list[Any] | None, int | None]:
    """The whole entries of a HAR document's `log.entries` read one by one (up to a cut, when the
    file is truncated: where it is is the second item, None when the list ends), or None if it has
    none. An entry nested deeper than the JSON reader can go is skipped (told to `problems`)."""
    m = _ENTRIES.search(text)
    if m is None:
        return None, None
    decoder, pos = json.JSONDecoder(), m.end()
    items: list[Any] = []
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            return items, pos
        if text[pos] == "]":
            return items, None
        try:
            item, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            return items, e.pos
        except RecursionError:
            end = _end_of_value(text, pos)
            if end is None:
                return items, pos
            if problems is not None:
                problems.append(f"HAR entry {len(items)} skipped: JSON nested too deep to read")
            items.append(None)  # (keeps the entries' numbers; `flows` skips it)
            pos = end
            continue
        items.append(item)


def _end_of_value(text: str, pos: int) -> int | None:
    """Where the JSON object or array starting at `pos` ends (found without recursion), or None when
    the text ends first."""
    depth, i, n = 0, pos, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def flows(items: list[Any], problems: list[str]) -> Iterator[http.HTTPFlow]:
    """A flow for every readable entry; what is skipped goes to `problems`, naming the entry."""
    from mitmproxy.io import har

    for index, raw in enumerate(items):
        if raw is None:  # (skipped while reading: `_entries_before_cut` told why)
            continue
        try:
            entry, timed = normalise(raw)
            flow = har.request_to_flow(entry)
        except NotHttp:
            continue
        except EntryError as e:
            problems.append(f"HAR entry {index} skipped: {e}")
            continue
        except Exception as e:  # noqa: BLE001 -- mitmproxy's reader raises anything on odd input
            what = f"no field {e}" if isinstance(e, KeyError) else f"{type(e).__name__}: {e}"
            problems.append(f"HAR entry {index} skipped: {what}")
            continue
        assert flow.response is not None  # request_to_flow reads the entry's response too
        if not timed:  # no duration given: no latency rather than a made-up 0 ms
            # (mitmproxy types a start as always known; the learner reads None as no latency)
            flow.response.timestamp_start = flow.response.timestamp_end = None  # type: ignore[assignment]
        yield flow


def _field(obj: dict[str, Any], key: str, where: str) -> Any:
    value = obj.get(key)
    if value is None:
        raise EntryError(f"no {where}{key}")
    return value


def _headers(value: Any) -> list:
    """Headers as mitmproxy's reader takes them: entries with a name (and a value, else empty)."""
    if not isinstance(value, list):
        return []
    out: list[dict[str, str] | list[str]] = []
    for h in value:
        if isinstance(h, dict) and isinstance(h.get("name"), str):
            out.append({"name": h["name"], "value": str(h.get("value") or "")})
        elif isinstance(h, (list, tuple)) and len(h) >= 2:
            out.append([str(h[0]), str(h[1])])
    return out


def _started(value: Any) -> str | None:
    """The entry's start as ISO 8601 mitmproxy parses, or None when missing or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value


def _duration(entry: dict[str, Any]) -> float | None:
    """`time` in ms, else the sum of the known `timings`, else None."""
    time = entry.get("time")
    if isinstance(time, (int, float)) and not isinstance(time, bool) and time >= 0:
        return float(time)
    timings = entry.get("timings")
    if isinstance(timings, dict):
        known = [v for k, v in timings.items() if k != "comment" and isinstance(v, (int, float)) and v >= 0]
        if known:
            return float(sum(known))
    return None


def normalise(raw: Any) -> tuple[dict[str, Any], bool]:
    """A copy of an entry with every field mitmproxy's reader needs, and whether its duration is known."""
    if not isinstance(raw, dict):
        raise EntryError("not an object")
    request = raw.get("request")
    response = raw.get("response")
    if not isinstance(request, dict):
        raise EntryError("no request")
    if not isinstance(response, dict):
        raise EntryError("no response")
    method, url = _field(request, "method", "request."), _field(request, "url", "request.")
    if not isinstance(method, str) or not method:
        raise EntryError("request.method is not a method")
    if method.upper() == "CONNECT":  # (a proxy's tunnel, as Fiddler and Charles log it: what went through it is
        raise NotHttp("CONNECT")     # logged as entries of its own)
    url = _http_url(url)
    status = _field(response, "status", "response.")
    try:
        status = int(status)
    except (TypeError, ValueError):
        raise EntryError(f"response.status {status!r} is not a number") from None
    started = _started(raw.get("startedDateTime"))
    duration = _duration(raw) if started else None
    post = request.get("postData")
    req = {**request, "method": method, "url": url, "httpVersion": str(request.get("httpVersion") or "HTTP/1.1"),
           "headers": _as_given(_headers(request.get("headers")), post)}
    if isinstance(post, dict):
        req["postData"] = {**post, "text": post.get("text") if isinstance(post.get("text"), str) else ""}
    else:
        req.pop("postData", None)
    content = response["content"] if isinstance(response.get("content"), dict) else {}
    if not isinstance(content.get("text", ""), str):
        content = {k: v for k, v in content.items() if k != "text"}
    resp = {**response, "status": status, "httpVersion": str(response.get("httpVersion") or "HTTP/1.1"),
            "headers": _as_given(_headers(response.get("headers")), content), "content": content}
    entry = {**raw, "startedDateTime": started or UNKNOWN_TIME, "time": duration or 0.0,
             "request": req, "response": resp}
    return entry, duration is not None


_OTHER_SCHEMES = frozenset(("data", "blob", "about", "javascript", "file", "filesystem", "chrome", "chrome-extension",
                            "moz-extension", "safari-extension", "edge", "devtools", "ftp", "mailto", "tel"))


def _http_url(url: Any) -> str:
    """The entry's URL as mitmproxy reads it: HTTP or HTTPS (a WebSocket's `ws`/`wss` handshake is
    one), a host in IDNA and a path and query in ASCII (tools other than browsers write `/tags/naïve`
    and `bücher.example` as they are), no fragment (never sent); NotHttp for a scheme browsers log
    beside HTTP, EntryError for no absolute URL."""
    if not isinstance(url, str):
        raise EntryError(f"request.url {url!r} is not an absolute URL")
    scheme, sep, rest = url.partition(":")
    scheme = scheme.lower()
    if sep and scheme in _OTHER_SCHEMES:
        raise NotHttp(scheme)  # (`data:...`, `about:blank`, `blob:https://...`)
    scheme = _WEBSOCKET.get(scheme, scheme)
    if scheme not in ("http", "https") or not rest.startswith("//") or not rest[2:]:
        raise EntryError(f"request.url {url[:200]!r} is not an absolute URL")
    rest = rest[2:].split("#", 1)[0]
    if not rest.isascii():
        end = min((i for i in (rest.find(c) for c in "/?") if i >= 0), default=len(rest))
        authority, tail = rest[:end], rest[end:]
        userinfo, at, hostport = authority.rpartition("@")
        if not hostport.isascii() and not hostport.startswith("["):
            try:
                hostport = hostport.encode("idna").decode("ascii")
            except UnicodeError:
                raise EntryError(f"request.url host {hostport[:100]!r} is not a host name") from None
        authority = urllib.parse.quote(userinfo, safe="!$&'()*+,;=:%") + at + hostport
        rest = authority + urllib.parse.quote(tail, safe=_URL_SAFE)
    return f"{scheme}://{rest}"


def _as_given(headers: list, content: Any) -> list:
    """Headers for a body a HAR file holds decoded, as the spec says it does (`content.text`,
    `postData.text`): without its `Content-Encoding` (mitmproxy's reader would encode the body again,
    and refuses one it does not know, `x-gzip`, `sdch`), and with the `mimeType` the entry gives for the
    body as its `Content-Type` when the headers have none."""
    def name(h: Any) -> str:
        return str(h["name"] if isinstance(h, dict) else h[0]).lower()

    kept = [h for h in headers if name(h) != "content-encoding"]
    mime = content.get("mimeType") if isinstance(content, dict) else None
    if isinstance(mime, str) and mime.strip() and not any(name(h) == "content-type" for h in kept):
        kept.append({"name": "Content-Type", "value": mime.strip()})
    return kept
