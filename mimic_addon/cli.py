"""The `mimic` command: run the proxy, learn from captures, export and inspect what was learned.

    mimic --help | -h | help [COMMAND]  Mimic's commands, one line each (or one command's options)
    mimic [mitmdump args...]            mitmdump with the Mimic addon loaded (also: mimic run ...)
    mimic learn FILE... --db DB         learn from mitmproxy flow files or HAR files (what cannot be
                                        read is skipped and told; exit 1 then)
    mimic export openapi --db DB [-o FILE]
    mimic export har|flows --db DB -o FILE          recorded exchanges (record mode) as HAR / mitmproxy flows
    mimic import openapi SPEC --db DB [--host H]    seed endpoints and schemas from an OpenAPI / Swagger spec
    mimic endpoints --db DB [--json]                a table of learned endpoints, or a JSON array
    mimic drift --db DB [--json] [--unresolved]     contract drift alerts (mimic drift resolve ID expected|fixed)
    mimic health --db DB [--json]                   health per endpoint and globally
    mimic admin --db DB [--bind 127.0.0.1:8081] [--secure-cookies]   the admin web app, standalone over the store
    mimic admin --db DB --reset-token               new admin token (printed once); logs everyone out
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from alembic.util.exc import CommandError
from sqlalchemy.exc import SQLAlchemyError

from .learn.brain import Brain
from .learn.capture import CaptureError
from .learn.gc_pacing import FrozenModel, collector_off
from .learn.learner import Learner
from .learn.readahead import batches, reads_apart
from .learn.watchdog import DEFAULT_DRIFT_AFTER
from .model.plural import plural
from .store import Store, StoreError
from .store.store import OPEN_ERRORS, cannot_open
from .store.urls import shown, sqlite_path

ADDON = Path(__file__).with_name("addon.py")
# Mimic's own commands and their one-line help (`mimic --help`); any other first argument is mitmdump's.
COMMANDS = {
    "run": "the proxy: mitmdump with the Mimic addon loaded (the default when no command is given)",
    "learn": "learn from mitmproxy flow files or HAR files captured earlier",
    "export": "export what was learned: openapi, jsonschema, typescript, pydantic, har, flows",
    "import": "seed the model from an OpenAPI / Swagger spec (mock before any traffic)",
    "endpoints": "the learned endpoints: a table, or JSON with --json",
    "drift": "contract drift alerts; `drift resolve ID expected|fixed` resolves one",
    "health": "health score per endpoint and globally",
    "admin": "the admin web app, standalone over the store of a running proxy",
    "help": "this help, or a command's (`mimic help learn`)",
}
SUBCOMMANDS = tuple(COMMANDS)
HELP_FLAGS = ("-h", "--help")
EXPORT_KINDS = ("openapi", "jsonschema", "typescript", "pydantic", "har", "flows")  # mimic_addon.export.EXPORTERS keys; kept here so --help needs no import
DEFAULT_MAX_BODY = 1024 * 1024


def _note(text: str) -> None:
    """A line for people on stderr, after whatever went to stdout so far: with both streams on
    one terminal or file (`2>&1`) it never lands inside or before a table."""
    sys.stdout.flush()
    print(text, file=sys.stderr, flush=True)


def _open_brain(db: str, create: bool = False) -> tuple[Store, Brain]:
    """The store at `db` and the model it holds. A command that only reads (`create` False) is
    refused a SQLite file that does not exist: opening it would create an empty store, and a
    mistyped `--db` would then read as "nothing learned"."""
    file = sqlite_path(db) if not create else None
    if file is not None and not file.exists():
        raise StoreError(f"no store at {file}: nothing was learned there (check --db; `mimic learn` and the proxy "
                         "create one)")
    try:
        store = Store(db)
        snapshot = store.load()
        snapshot["alerts"] = store.load_alerts()
    except OPEN_ERRORS as e:
        raise cannot_open(db, e) from e
    brain = Brain()
    brain.load(snapshot)
    return store, brain


class _Progress:
    """A one-line progress bar on stderr, by bytes read (no second pass over the files); where stderr
    is no terminal (a CI log, a file), a line of it every `LOG_EVERY` seconds instead of a bar redrawn."""

    LOG_EVERY = 10.0

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = max(total, 1)
        self.enabled = enabled
        self.live = sys.stderr.isatty()
        self.last = 0.0
        self.start = time.monotonic()

    def show(self, done: int, flows: int, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self.last < (0.2 if self.live else self.LOG_EVERY)):
            return
        self.last = now
        frac = min(done / self.total, 1.0)
        bar = "#" * int(frac * 30)
        rate = flows / max(now - self.start, 1e-9)
        sys.stderr.write(f"{chr(13) if self.live else ''}[{bar:<30}] {frac:6.1%} {flows} flows {rate:,.0f}/s")
        if final or not self.live:
            sys.stderr.write("\n")
        sys.stderr.flush()


MAX_PROBLEMS_SHOWN = 10  # per file; the rest are counted
SAVE_EVERY = 30.0  # seconds of learning between saves: a killed `mimic learn` loses no more than that


class _Stopped(Exception):
    """Ctrl-C or SIGTERM asked `mimic learn` to stop (taken between batches)."""


@contextmanager
def _stop_requests() -> Iterator[list[int]]:
    """Ctrl-C and SIGTERM only ask to stop (the signals asked with are listed): learning stops
    between batches (a model cut in the middle of an update would be saved as it is), and a save
    is never cut short. A signal the process was started to ignore stays ignored."""
    asked: list[int] = []
    if threading.current_thread() is not threading.main_thread():  # (signals reach the main thread only)
        yield asked
        return
    mine = [sig for sig in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(sig) is not signal.SIG_IGN]
    # (the handler only takes note: printing from it could meet a write to stderr it interrupted)
    previous = {sig: signal.signal(sig, lambda signum, frame: asked.append(signum)) for sig in mine}
    try:
        yield asked
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cmd_learn(args: argparse.Namespace) -> int:
    """Learn every file, as much of each as can be read; what was skipped is told on stderr after
    the progress bar, and the exit status is 1 when anything was (what was learned is saved).
    Ctrl-C or SIGTERM stop it between batches: what was learned is saved, exit status 130 / 143.
    The drift found is told at the end, under the ids `mimic drift` shows."""
    files = [Path(p) for p in args.files]
    skipped: list[str] = []
    readable = []
    for p in files:
        if p.is_file():
            readable.append(p)
        else:
            skipped.append(f"{p}: {'not a file' if p.exists() else 'no such file'}: skipped")
    store, brain = _open_brain(args.db, create=True)
    brain.watch.enabled = not args.no_watch
    brain.watch.drift_after = args.drift_after
    learner = Learner(brain, store)
    open_before = {a.id for a in brain.watch.alerts.open.values()}
    # (found while learning, an alert may yet be withdrawn or move to a template still to be found)
    learner.report = lambda alert, new, is_new: None
    sizes = {p: p.stat().st_size for p in readable}
    progress = _Progress(sum(sizes.values()), enabled=not args.quiet)
    done_bytes = flows = offset = 0
    nothing: list[Path] = []  # files read whole that held no answered exchange
    saved = time.monotonic()
    with FrozenModel(collect=not reads_apart()) as pace, _stop_requests() as stop_asked:
        try:
            for p in readable:
                problems: list[str] = []
                from_file, told = 0, len(skipped)
                try:
                    for batch, offset in batches(p, args.max_body, problems.append,
                                                 lambda: (brain.learned_fully, brain.observed)):
                        if stop_asked:
                            raise _Stopped
                        learner.learn_batch(batch)
                        pace()
                        flows += len(batch)
                        from_file += len(batch)
                        progress.show(done_bytes + offset, flows)
                        if time.monotonic() - saved >= SAVE_EVERY:
                            with collector_off():
                                learner.flush()
                            saved = time.monotonic()
                except CaptureError as e:
                    skipped.append(f"{e}: the rest of the file was not read ({plural(from_file, 'flow')} of it learned)"
                                   if from_file else f"{e}: file skipped")
                skipped += [f"{p}: {text}" for text in problems[:MAX_PROBLEMS_SHOWN]]
                if len(problems) > MAX_PROBLEMS_SHOWN:
                    skipped.append(f"{p}: ... and {len(problems) - MAX_PROBLEMS_SHOWN} more skipped")
                if not from_file and not problems and len(skipped) == told:
                    nothing.append(p)
                done_bytes += sizes[p]
                offset = 0
                if stop_asked:
                    raise _Stopped
        except _Stopped:
            pass
        if stop_asked:
            sys.stderr.write("\nmimic learn: stopping: saving what was learned\n")
        progress.show(done_bytes + offset, flows, final=True)
        learner.finish()
        with collector_off():
            ok = learner.flush()
    store.close()
    n = len(brain.endpoints())
    for line in skipped:
        _note(f"mimic learn: {line}")
    for p in nothing:  # (a capture stopped before its first exchange, or of requests never answered: no error)
        _note(f"mimic learn: {p}: " + ("empty: nothing to learn" if sizes[p] == 0 else
                                       "nothing to learn (no exchange with an answer in it)"))
    if stop_asked:
        _note(f"mimic learn: interrupted after {plural(flows, 'flow')}: "
              + ("what was learned is saved" if ok else "the store refused the last save (above)"))
    _note(f"learned {plural(flows, 'flow')}: {plural(n, 'endpoint')} on {plural(len(brain.hosts), 'host')}"
          f" -> {shown(store.url)}")
    opened = [a for a in brain.watch.alerts.open.values() if a.id not in open_before]
    if not args.quiet:
        for alert in opened:
            _note(f"drift {alert.id}: {alert.narration()}")
    if opened:
        _note(f"{plural(len(opened), 'drift alert')} opened: see `mimic drift --db {args.db}`")
    if skipped:
        _note("mimic learn: some input was skipped (above); everything else was learned and saved")
    if stop_asked and ok:
        return 128 + stop_asked[0]  # as a shell reports a command the signal ended (130, 143)
    return 0 if ok and not skipped else 1


def cmd_export(args: argparse.Namespace) -> int:
    from .export import EXPORTERS, ExportError, ExportRequest

    store, brain = _open_brain(args.db)
    try:
        host = args.host
        if host is not None:
            known = list(brain.hosts)
            if args.kind in ("har", "flows"):  # (what was recorded: a host may be there and not learned)
                known += sorted({r["host"] for r in store.load_recordings()} - set(known))
            host = _host_named(host, known)
        result = EXPORTERS[args.kind](ExportRequest(store=store, brain=brain, host=host, yaml=args.yaml))
    except ExportError as e:
        _note(f"mimic export {args.kind}: {e}")
        return 1
    finally:
        store.close()
    data = result.content if isinstance(result.content, bytes) else result.content.encode("utf-8")
    if args.output:
        Path(args.output).write_bytes(data)
        _note(f"wrote {result.summary} to {args.output}")
    elif isinstance(result.content, bytes):
        sys.stdout.buffer.write(data)
    else:
        sys.stdout.write(result.content)
    return 0


def _host_named(asked: str, learned: list[str]) -> str:
    """The host `--host` names among those learned (or recorded): as it is (`127.0.0.1:8001`), or without
    its port when only one has that name (`127.0.0.1`). ExportError when it names none, or several."""
    from .export import ExportError

    if asked in learned:
        return asked
    alike = [name for name in learned if name.rsplit(":", 1)[0] == asked]
    if len(alike) == 1:
        return alike[0]
    if alike:
        raise ExportError(f"--host {asked}: several learned hosts have that name: {', '.join(sorted(alike))}")
    raise ExportError(f"--host {asked}: no such learned host (learned: {', '.join(sorted(learned)) or 'none'})")


def cmd_import(args: argparse.Namespace) -> int:
    from .imports.openapi_import import cmd_import as run

    return run(args)


def _endpoint_record(brain: Brain, ep) -> dict:
    """One endpoint for `mimic endpoints --json`."""
    s = ep.stats.summary()
    return {
        "host": ep.host, "method": ep.method, "template": brain.template(ep), "count": ep.stats.count,
        "statuses": {str(code): n for code, n in sorted(ep.stats.statuses.items())},
        "latency_ms": {q: s["latency"][q] for q in ("p50", "p95", "p99")},
        "error_rate": s["error_rate"], "first_seen": s["first_seen"], "last_seen": s["last_seen"],
        "source": ("spec+traffic" if ep.stats.count else "spec") if ep.imported else "traffic",
    }


MAX_COLUMN = 60  # characters a column of `mimic endpoints` pads to


def cmd_endpoints(args: argparse.Namespace) -> int:
    store, brain = _open_brain(args.db)
    store.close()
    records = [_endpoint_record(brain, ep)
               for ep in sorted(brain.endpoints(), key=lambda e: (e.host, brain.template(e), e.method))]
    if args.json:
        sys.stdout.write(json.dumps(records, indent=2) + "\n")
        return 0
    _safe_stdout()
    fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
    rows = []
    for r in records:
        codes = {int(code): n for code, n in r["statuses"].items()}
        mix = "/".join(str(sum(n for code, n in codes.items() if lo <= code < lo + 100)) for lo in (200, 300, 400, 500))
        lat = r["latency_ms"]
        rows.append((r["host"], r["method"], r["template"], str(r["count"]), mix,
                     fmt(lat["p50"]), fmt(lat["p95"]), fmt(lat["p99"]), r["source"]))
    header = ("HOST", "METHOD", "TEMPLATE", "COUNT", "2xx/3xx/4xx/5xx", "P50ms", "P95ms", "P99ms", "SOURCE")
    # (a column is as wide as its cells up to MAX_COLUMN: a longer one shifts its own row only, not the table)
    widths = [min(MAX_COLUMN, max(len(r[i]) for r in rows + [header])) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    _note(plural(len(rows), "endpoint"))
    return 0


def _safe_stdout() -> None:
    """Field names and values come from traffic: a lone surrogate (valid in a JSON body) must not
    crash the text output. JSON output escapes everything non-ASCII instead."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")


def cmd_drift(args: argparse.Namespace) -> int:
    from .watch.report import alerts_text

    _safe_stdout()
    store, brain = _open_brain(args.db)
    try:
        if args.words:
            if len(args.words) != 3 or args.words[0] != "resolve":
                _note("usage: mimic drift resolve ID expected|fixed --db DB")
                return 2
            try:
                alert = brain.resolve_alert(args.words[1], args.words[2], time.time())
            except (KeyError, ValueError) as e:
                _note(f"mimic drift: {str(e).strip(chr(39))}")
                return 1
            ok = Learner(brain, store).flush()
            _note(f"alert {alert['id']} resolved as {args.words[2]}")
            return 0 if ok else 1
        alerts = brain.alert_list(unresolved=args.unresolved)
    finally:
        store.close()
    if args.json:
        drop = ("pending", "pending_other", "skeleton")
        sys.stdout.write(json.dumps([{k: v for k, v in a.items() if k not in drop} for a in alerts],
                                    indent=2) + "\n")
    else:
        print(alerts_text(alerts))
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    from .watch.report import health_text

    _safe_stdout()
    store, brain = _open_brain(args.db)
    history = store.load_health()
    store.close()
    health = brain.health()
    if args.json:
        sys.stdout.write(json.dumps({**health, "history": history}, indent=2) + "\n")
    else:
        print(health_text(health))
    return 0


def cmd_admin(args: argparse.Namespace) -> int:
    from .control.standalone import reset, run

    if args.reset_token:
        return reset(args.db)
    return run(args.db, args.bind, args.token, args.secure_cookies)


def run_mitmdump(args: list[str]) -> int:
    """mitmdump with the addon loaded; every argument is mitmdump's own."""
    from mitmproxy.tools.main import mitmdump

    return mitmdump(["-s", str(ADDON), *args]) or 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="mimic", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    default_db = os.path.join("~", ".mimic", "mimic.db")
    p = sub.add_parser("learn", help=COMMANDS["learn"], epilog=(
        "exit status: 0 when every file was read whole; 1 when something was skipped (told on stderr; the rest "
        "is learned and saved) or the store refused the save; 130 / 143 when Ctrl-C / SIGTERM stopped it "
        "(what was learned is saved)"))
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="mitmproxy flow files (mitmdump -w, any format version) or HAR files (browsers' devtools, ...)")
    p.add_argument("--db", default=default_db, help="SQLite file or SQLAlchemy URL (default %(default)s)")
    p.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY, help="bodies above this are learned by size only")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, and the drift found only counted")
    p.add_argument("--drift-after", type=int, default=DEFAULT_DRIFT_AFTER, metavar="N",
                   help="answers a place in a response needs before it is checked for contract drift "
                        "(default %(default)s)")
    p.add_argument("--no-watch", action="store_true", help="learn only: no drift checks or anomaly detection")
    p.set_defaults(func=cmd_learn)
    p = sub.add_parser("export", help=COMMANDS["export"])
    p.add_argument("kind", choices=sorted(EXPORT_KINDS))
    p.add_argument("--db", default=default_db)
    p.add_argument("-o", "--output", help="file to write (default: stdout)")
    p.add_argument("--host", help="only this host")
    p.add_argument("--yaml", action="store_true", help="YAML instead of JSON")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("import", help=COMMANDS["import"])
    p.add_argument("kind", choices=("openapi",))
    p.add_argument("spec", metavar="SPEC", help="OpenAPI 3.0 / 3.1 or Swagger 2.0 document, JSON or YAML")
    p.add_argument("--db", default=default_db)
    p.add_argument("--host", help="host the endpoints belong to (default: the spec's servers[0].url)")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("endpoints", help=COMMANDS["endpoints"])
    p.add_argument("--db", default=default_db)
    p.add_argument("--json", action="store_true",
                   help="a JSON array on stdout: host, method, template, count, statuses, latency_ms, source...")
    p.set_defaults(func=cmd_endpoints)
    p = sub.add_parser("drift", help=COMMANDS["drift"],
                       usage="mimic drift [--db DB] [--json] [--unresolved]\n"
                             "       mimic drift resolve ID expected|fixed [--db DB]")
    p.add_argument("words", nargs="*", metavar="resolve ID expected|fixed")
    p.add_argument("--db", default=default_db)
    p.add_argument("--json", action="store_true", help="a JSON list of alerts on stdout")
    p.add_argument("--unresolved", action="store_true", help="only alerts not resolved yet")
    p.set_defaults(func=cmd_drift)
    p = sub.add_parser("health", help=COMMANDS["health"])
    p.add_argument("--db", default=default_db)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_health)
    p = sub.add_parser("admin", help=COMMANDS["admin"])
    p.add_argument("--db", default=default_db)
    p.add_argument("--bind", default="127.0.0.1:8081", metavar="HOST:PORT", help="where to listen (default %(default)s)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--token", default=None,
                       help="admin token to log in with (else env MIMIC_ADMIN_TOKEN, else generated once and stored "
                            "hashed). Prefer MIMIC_ADMIN_TOKEN: a command-line argument is visible to every user "
                            "of the machine (ps, /proc)")
    which.add_argument("--reset-token", action="store_true",
                       help="generate a new admin token, print it once, rotate the session secret (every "
                            "session on the store ends within a second) and exit")
    p.add_argument("--secure-cookies", action="store_true",
                   help="mark cookies Secure (HTTPS only), e.g. behind a TLS reverse proxy "
                        "(also env MIMIC_ADMIN_SECURE_COOKIES=1)")
    p.set_defaults(func=cmd_admin)
    return ap


def help_text() -> str:
    """`mimic --help`: Mimic's commands, one line each, then where every other argument goes."""
    width = max(map(len, COMMANDS))
    lines = ["usage: mimic COMMAND [options]       (mimic COMMAND --help: that command's options)",
             "       mimic [mitmdump options]       (the proxy, like `mimic run`)",
             "",
             "Mimic learns an API from the traffic it proxies, then mocks, replays and watches it.",
             "",
             "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, text in COMMANDS.items()]
    lines += ["",
              "Any other arguments go to mitmdump, with the Mimic addon loaded:",
              "  mimic --mode reverse:http://127.0.0.1:8001 --set mimic_db=./api.db",
              "`mimic run --help` lists mitmdump's own options (Mimic's are the mimic_* ones)."]
    return "\n".join(lines) + "\n"


def _help(words: list[str]) -> int:
    """`mimic help [COMMAND]`, `mimic --help`, `mimic -h`."""
    if words and words[0] == "run":
        return run_mitmdump(["--help"])
    if words and words[0] in COMMANDS and words[0] != "help":
        build_parser().parse_args([words[0], "--help"])  # prints and exits 0
    if words and words[0] not in COMMANDS:
        _note(f"mimic help: no command {words[0]!r}")
        sys.stdout.write(help_text())
        return 2
    sys.stdout.write(help_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and (argv[0] == "help" or argv[0] in HELP_FLAGS):
        try:
            return _help(argv[1:])
        except SystemExit as e:  # argparse's --help
            return int(e.code or 0)
    if not argv or argv[0] not in SUBCOMMANDS or argv[0] == "run":
        return run_mitmdump(argv[1:] if argv and argv[0] == "run" else argv)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except StoreError as e:
        _note(f"mimic: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
