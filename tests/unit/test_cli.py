"""The `mimic` command as a newcomer meets it: help, the endpoint list, what goes to which stream."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from captures import write_flows
from mimic_addon import cli

COMMANDS = ("learn", "export", "import", "endpoints", "drift", "health", "admin")


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["help"]])
def test_help_lists_mimics_commands(argv, capsys):
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for name in COMMANDS:
        [line] = [ln for ln in lines if ln.split()[:1] == [name]]
        assert len(line.split()) > 2, line  # one line of help each
    assert "Any other arguments go to mitmdump" in out


def test_help_for_one_command(capsys):
    assert cli.main(["help", "endpoints"]) == 0
    assert "--json" in capsys.readouterr().out
    assert cli.main(["help", "no-such-command"]) == 2


@pytest.fixture
def learned_db(tmp_path) -> str:
    capture = write_flows(tmp_path / "c.mitm", [("GET", "https://api.example.com/ping", 200, {"ok": True}),
                                                 ("GET", "https://api.example.com/ping", 503, {"ok": False})])
    db = str(tmp_path / "m.db")
    assert cli.main(["learn", "-q", str(capture), "--db", db]) == 0
    return db


def test_endpoints_json(learned_db, capsys):
    capsys.readouterr()
    assert cli.main(["endpoints", "--db", learned_db, "--json"]) == 0
    captured = capsys.readouterr()
    [ep] = json.loads(captured.out)
    assert (ep["host"], ep["method"], ep["template"], ep["count"]) == ("api.example.com", "GET", "/ping", 2)
    assert ep["statuses"] == {"200": 1, "503": 1} and ep["source"] == "traffic"
    assert ep["latency_ms"]["p50"] == pytest.approx(12, rel=0.05)


def test_counts_are_singular_and_come_after_the_table(learned_db):
    """With stdout and stderr on one pipe (`2>&1 | less`) the count is the last line, on its own."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout block-buffered, as in a pipe
    run = subprocess.run([sys.executable, "-m", "mimic_addon.cli", "endpoints", "--db", learned_db],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True, env=env)
    lines = run.stdout.splitlines()
    assert lines[0].startswith("HOST") and lines[1].startswith("api.example.com")
    assert lines[-1] == "1 endpoint"


def test_learn_summary_is_singular(tmp_path, capsys):
    capture = write_flows(tmp_path / "c.mitm", [("GET", "https://api.example.com/ping", 200, {"ok": True})])
    assert cli.main(["learn", "-q", str(capture), "--db", str(tmp_path / "m.db")]) == 0
    assert "learned 1 flow: 1 endpoint on 1 host -> " in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["endpoints"], ["drift", "--json"], ["health"], ["export", "openapi"],
                                  ["drift", "resolve", "abc", "expected"]])
def test_a_reading_command_refuses_a_store_that_is_not_there(tmp_path, argv, capsys):
    """A mistyped --db must not read as "nothing learned" (nor leave an empty store behind)."""
    typo = tmp_path / "typo" / "mimc.db"
    assert cli.main(argv + ["--db", str(typo)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"no store at {typo}" in captured.err
    assert not typo.exists() and not typo.parent.exists()
    assert cli.main(argv[:1] + argv[1:] + ["--db", f"sqlite:///{typo}"]) == 1


def test_learn_creates_the_store(tmp_path):
    capture = write_flows(tmp_path / "c.mitm", [("GET", "https://api.example.com/ping", 200, {"ok": True})])
    db = tmp_path / "new" / "m.db"
    assert cli.main(["learn", "-q", str(capture), "--db", str(db)]) == 0
    assert db.is_file()
    assert cli.main(["endpoints", "--db", str(db)]) == 0


def test_a_read_only_sqlite_uri_reads_the_store_and_creates_nothing(tmp_path, capsys):
    """SQLAlchemy's read-only URI (`sqlite:///file:PATH?mode=ro&uri=true`) opens PATH: read commands take
    it; the same options without `file:` name another file (SQLite's plain name keeps them), which does
    not exist and is refused, not created empty."""
    capture = write_flows(tmp_path / "c.mitm", [("GET", "https://api.example.com/ping", 200, {"ok": True})])
    db = tmp_path / "m.db"
    assert cli.main(["learn", "-q", str(capture), "--db", str(db)]) == 0
    capsys.readouterr()
    assert cli.main(["endpoints", "--db", f"sqlite:///file:{db}?mode=ro&uri=true"]) == 0
    assert "/ping" in capsys.readouterr().out
    assert cli.main(["endpoints", "--db", f"sqlite:///{db}?mode=ro&uri=true"]) == 1
    assert f"no store at {db}?mode=ro" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir() if "?" in p.name) == []


def test_export_host_without_its_port(tmp_path, capsys):
    """`--host 127.0.0.1` names the one learned host of that name, whatever its port; a name of no
    learned host is an error saying which there are, not an empty document."""
    capture = write_flows(tmp_path / "c.mitm", [("GET", "http://127.0.0.1:8001/ping", 200, {"ok": True})])
    db = str(tmp_path / "m.db")
    assert cli.main(["learn", "-q", str(capture), "--db", db]) == 0
    capsys.readouterr()
    assert cli.main(["export", "openapi", "--db", db, "--host", "127.0.0.1"]) == 0
    assert "/ping" in json.loads(capsys.readouterr().out)["paths"]
    assert cli.main(["export", "openapi", "--db", db, "--host", "api.example.com"]) == 1
    assert "no such learned host (learned: 127.0.0.1:8001)" in capsys.readouterr().err


def test_one_long_template_does_not_widen_every_row(tmp_path, capsys):
    long = "/files/" + "/".join(f"dir{i}" for i in range(30))
    capture = write_flows(tmp_path / "c.mitm", [("GET", "https://api.example.com/ping", 200, {"ok": True}),
                                                 ("GET", f"https://api.example.com{long}", 200, {"ok": True})])
    db = str(tmp_path / "m.db")
    assert cli.main(["learn", "-q", str(capture), "--db", db]) == 0
    capsys.readouterr()
    assert cli.main(["endpoints", "--db", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    [ping] = [ln for ln in lines if "/ping" in ln]
    assert ping.index("  1  ") == len("api.example.com  METHOD  ") + cli.MAX_COLUMN  # (not the long one's width)
    assert any(long in ln for ln in lines)


def test_a_capture_without_an_answered_exchange_says_so(tmp_path, capsys):
    har = tmp_path / "none.har"
    har.write_text('{"log": {"entries": []}}')
    assert cli.main(["learn", str(har), "--db", str(tmp_path / "m.db"), "-q"]) == 0
    assert f"{har}: nothing to learn (no exchange with an answer in it)" in capsys.readouterr().err
