"""Text views of drift alerts and health, shared by the CLI and the addon's commands."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from ..model.plural import plural

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _lines(lines: list[str]) -> str:
    """Join lines, escaping control characters from traffic (newlines, ANSI escapes) in each."""
    return "\n".join(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", line) for line in lines)


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def alerts_text(alerts: list[dict[str, Any]]) -> str:
    if not alerts:
        return "no drift alerts"
    out = []
    for a in alerts:
        state = f"resolved ({a['resolution']})" if a["resolved"] else "open"
        c = a.get("confidence")
        sure = "" if c is None else f"  {c:.0%} sure" if c < 0.99 else f"  {min(c, 0.9999):.2%} sure"
        out.append(f"[{a['label']}] {a['id']}  {a['method']} {a['template']} -> {a['status']}  score {a['score']}{sure}  "
                   f"{a['summary']}  x{a['count']}  {_when(a['first_seen'])} .. {_when(a['last_seen'])}  {state}")
        out.append(f"  {a['narration']}")
        for c in a["changes"]:
            example = "" if c.get("example") is None else f"  e.g. {c['example']!r}"
            out.append(f"  - {c['label']:<8} {c['path']}  {c['kind']}: {c['expected']} -> {c['actual']}{example}  x{c['count']}"
                       + (f"  ({c['evidence']})" if c.get("evidence") else ""))
            out.append(f"      impact: {c['impact']}")
            out.append(f"      action: {c['action']}")
    return _lines(out)


def health_text(health: dict[str, Any]) -> str:
    def alerts(e: dict[str, Any]) -> str:
        a = e.get("alerts") or {"open": 0, "total": 0}
        return f"{a['open']}/{a['total']}"

    rows = [(e["status"], f"{e['score']:.1f}", e["method"], f"{e['host']}{e['template']}", str(e["count"]),
             alerts(e), "; ".join(e["reasons"]) or "-") for e in health["endpoints"]]
    header = ("STATUS", "SCORE", "METHOD", "ENDPOINT", "COUNT", "ALERTS", "WHY")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header) - 1)]
    lines = ["  ".join([c.ljust(w) for c, w in zip(r[:-1], widths)] + [r[-1]]) for r in [header] + rows]
    lines.append(f"GLOBAL  {health['score']:.1f}  {health['status']}  ({plural(len(rows), 'endpoint')})")
    return _lines(lines)
