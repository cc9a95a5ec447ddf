"""What learning takes from one exchange before it looks at the model: a pure function of it.

Parsing the bodies, redacting them, the shape tokens and the echoes the path learner compares,
the path's segments and the query's redacted, typed values depend on the exchange alone. The
live learner computes them as it learns; `mimic learn` has its reader process compute them
beside the file's parsing (`readahead.py`), on the second core, so that the learner itself only
updates the model. Same function, same values: the same flows teach the same model either way.
"""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

from ..model.paths import Shape, split_path
from ..model.redact import redact_json, redact_query
from ..model.schema import coerce_scalar
from ..model.wire_text import clean_text
from .features import Echoes, echo_candidates, echo_values, shape_of
from .observation import Observation, read_body


@dataclass(slots=True)
class Digest:
    """One exchange as learning takes it. The bodies are kept parsed and, once `redact` ran, redacted:
    the schema learns the redacted form, the drift watch and the echoes read the parsed one, and
    an example is redacted again only when the two differ (`endpoint._example`)."""
    parts: list[str]                      # the path's segments, decoded (credentials redacted)
    query: list[tuple[str, str]]          # as sent (its keys tell request shapes apart)
    query_fields: list[tuple[str, Any]]   # each parameter's first value, redacted and typed
    request_json: Any                     # the parsed bodies (None when not JSON)
    request_is_json: bool
    response_json: Any
    response_is_json: bool
    shape: Shape                          # `features.shape_of`
    echo: Echoes                          # `features.echo_values` of the path's segments
    redacted: bool = False                # `redact` ran: the two fields below are set
    request_safe: Any = None              # the bodies redacted (the very same object when nothing was)
    response_safe: Any = None

    def redact(self) -> Digest:
        """Redact the bodies (once): only for a sample, or ahead of the learner, where it costs it nothing."""
        if not self.redacted:
            self.request_safe = redact_json(self.request_json) if self.request_is_json else None
            self.response_safe = redact_json(self.response_json) if self.response_is_json else None
            self.redacted = True
        return self


def path_parts(obs: Observation) -> list[str]:
    """The path's segments, percent-decoded, as the store can keep them."""
    path = obs.path
    if "%" in path or not path.isascii():
        return [_storable(urllib.parse.unquote(p)) for p in split_path(path)]
    return split_path(path)  # (nothing to decode, nothing a store could refuse: most paths)


def _storable(text: str) -> str:
    """A segment as text every store can hold: raw non-UTF-8 bytes in a path reach us as lone
    surrogates (mitmproxy decodes with surrogateescape), which no database encoding accepts. They
    read as U+FFFD, as percent-encoded ones do (`unquote`) and as mock and failover read them
    (`serve.request_input.path_part`), so a learned segment matches the same request served."""
    return clean_text(text)


def query_fields(query: list[tuple[str, str]]) -> list[tuple[str, Any]]:
    """Each parameter's first value, redacted, read as the scalar it spells (`coerce_scalar`)."""
    seen: dict[str, str] = {}
    for name, value in redact_query(query):
        seen.setdefault(name, value)
    return [(name, coerce_scalar(value)) for name, value in seen.items()]


def digest(obs: Observation, parts: list[str] | None = None) -> Digest:
    """The exchange's digest, bodies not redacted yet (`Digest.redact`)."""
    if parts is None:
        parts = path_parts(obs)
    request_json, request_is_json, request_text = read_body(obs.request)
    response_json, response_is_json, response_text = read_body(obs.response)
    query = obs.query
    shape = shape_of(obs.status, [k for k, _ in query], request_json, response_json,
                     obs.response.content_type, obs.response.size, request_is_json)
    echo = echo_values(echo_candidates(parts, (request_text, response_text)), request_json, response_json)
    return Digest(parts=parts, query=query, query_fields=query_fields(query),
                  request_json=request_json, request_is_json=request_is_json,
                  response_json=response_json, response_is_json=response_is_json, shape=shape, echo=echo)
