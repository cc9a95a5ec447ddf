"""TargetAddon: the reverse-proxy target, changeable at run time (option `mimic_target`, command
`mimic.target.set URL`; the admin deck uses the command).

When set, every request goes upstream to that scheme://host:port instead of where mitmproxy's mode
would send it; like mitmproxy's reverse mode, the Host header becomes the target's unless
`keep_host_header` is set. It runs before the chaos and serve addons, so chaos rules, the mock and
failover answers and the learner all see the request as it goes upstream.
"""
from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from typing import NamedTuple

from mitmproxy import command, ctx, exceptions, http
from mitmproxy.net.http import url


class Target(NamedTuple):
    scheme: str
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"{self.scheme}://{url.hostport(self.scheme, self.host, self.port)}"


def parse_target(spec: str) -> Target | None:
    """"http://127.0.0.1:8001" -> Target; "" -> None; ValueError with the reason for anything else."""
    spec = spec.strip()
    if not spec:
        return None
    try:
        parts = urllib.parse.urlsplit(spec)
        port = parts.port
    except ValueError as e:
        raise ValueError(f"invalid URL {spec!r}: {e}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"the target must be an http:// or https:// URL, not {spec!r}")
    if not parts.hostname:
        raise ValueError(f"the target URL {spec!r} has no host")
    if port == 0:
        raise ValueError(f"the target URL {spec!r} has port 0")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"the target is scheme://host[:port] only (no path, query or credentials): {spec!r}")
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80))


def mode_target(modes: Iterable[object] | None) -> str:
    """The URL of mitmproxy's reverse mode (`--mode reverse:URL`), or "" in other modes."""
    for spec in modes or ():
        if isinstance(spec, str) and spec.startswith("reverse:"):
            rest = spec[len("reverse:"):]
            return rest.split("@", 1)[0] if "://" in rest else rest
    return ""


def effective_target() -> str:
    """Where requests go now: `mimic_target` when set, else the reverse mode's URL ("" for other modes)."""
    return getattr(ctx.options, "mimic_target", "") or mode_target(getattr(ctx.options, "mode", ()))


class TargetAddon:
    def __init__(self) -> None:
        self.target: Target | None = None

    def load(self, loader) -> None:
        loader.add_option("mimic_target", str, "",
                          "Send every request upstream to this URL (scheme://host[:port]) instead of where the "
                          "proxy mode sends it, e.g. to switch a reverse proxy between backends at run time "
                          "(command mimic.target.set). Empty: the mode decides.")

    def configure(self, updated: set[str]) -> None:
        if "mimic_target" in updated:
            try:
                self.target = parse_target(ctx.options.mimic_target)
            except ValueError as e:
                raise exceptions.OptionsError(f"mimic_target: {e}") from None

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self._retarget(flow)

    def request(self, flow: http.HTTPFlow) -> None:
        self._retarget(flow)  # again: a target set while the body was being read

    def _retarget(self, flow: http.HTTPFlow) -> None:
        target = self.target
        if target is None or flow.response or flow.error or not flow.live:
            return
        req = flow.request
        if (req.scheme, req.host, req.port) == target:
            return
        kept = req.host_header
        req.scheme, req.host, req.port = target.scheme, target.host, target.port  # (these update Host too)
        if getattr(ctx.options, "keep_host_header", False) and kept is not None:
            req.host_header = kept
        else:
            req.host_header = url.hostport(target.scheme, target.host, target.port)

    @command.command("mimic.target.set")
    def set_target(self, target: str) -> None:
        """Send requests to this upstream URL (scheme://host[:port]) from now on; "" returns to the mode's."""
        try:
            parse_target(target)
        except ValueError as e:
            raise exceptions.CommandError(str(e)) from e
        ctx.options.update(mimic_target=target.strip())

    @command.command("mimic.target")
    def show_target(self) -> str:
        """Where requests go upstream now (the mode's target when mimic_target is empty)."""
        return effective_target()
