"""`mimic learn` learns what can be read, tells what it skipped and where, and says so in its exit status."""
from __future__ import annotations

import json

from captures import har_entry, write_flows, write_har
from mimic_addon import cli
from mimic_addon.learn.capture import CaptureError


def _endpoints(db: str, capsys) -> list[tuple[str, str]]:
    capsys.readouterr()
    assert cli.main(["endpoints", "--db", db, "--json"]) == 0
    return [(e["host"], e["template"]) for e in json.loads(capsys.readouterr().out)]


def test_an_unreadable_file_among_good_ones(tmp_path, capsys):
    first = write_flows(tmp_path / "first.mitm", [("GET", "https://api.example.com/first", 200, {"n": 1})])
    middle = tmp_path / "middle.mitm"
    middle.write_bytes(b"\x00\x01 not a capture")
    last = write_flows(tmp_path / "last.mitm", [("GET", "https://api.example.com/last", 200, {"n": 2})])
    db = str(tmp_path / "m.db")
    assert cli.main(["learn", "-q", str(first), str(middle), str(last), "--db", db]) == 1
    err = capsys.readouterr().err
    assert f"mimic learn: {middle}: not a mitmproxy flow file nor a HAR file: file skipped" in err
    assert "learned 2 flows: 2 endpoints on 1 host" in err
    assert _endpoints(db, capsys) == [("api.example.com", "/first"), ("api.example.com", "/last")]


def test_an_interrupted_capture_keeps_its_first_flows(tmp_path, capsys):
    capture = write_flows(tmp_path / "cut.mitm", [("GET", f"https://api.example.com/items/{i}", 200, {"id": i})
                                                  for i in range(5)])
    whole = capture.read_bytes()
    capture.write_bytes(whole[:-40])  # the capture stopped while writing the fifth flow
    db = str(tmp_path / "m.db")
    assert cli.main(["learn", "-q", str(capture), "--db", db]) == 1
    err = capsys.readouterr().err
    assert f"mimic learn: {capture}: invalid flow data at byte " in err and "interrupted capture" in err
    assert "learned 4 flows" in err
    capsys.readouterr()
    assert cli.main(["endpoints", "--db", db, "--json"]) == 0
    [ep] = json.loads(capsys.readouterr().out)
    assert ep["count"] == 4


def test_a_clean_run_exits_zero(tmp_path, capsys):
    capture = write_flows(tmp_path / "ok.mitm", [("GET", "https://api.example.com/ok", 200, {"ok": True})])
    assert cli.main(["learn", "-q", str(capture), "--db", str(tmp_path / "m.db")]) == 0
    assert "mimic learn:" not in capsys.readouterr().err


def test_har_without_optional_fields_real_tools_omit(tmp_path, capsys):
    """Some tools write no startedDateTime, httpVersion or headers: read with defaults, no latency made up."""
    bare = har_entry("GET", "https://api.example.com/users/1", 200, {"id": 1})
    del bare["startedDateTime"], bare["request"]["httpVersion"], bare["response"]["httpVersion"]
    del bare["request"]["headers"], bare["time"], bare["timings"]
    timed = har_entry("GET", "https://api.example.com/users/2", 200, {"id": 2})
    del timed["response"]["httpVersion"]
    har = write_har(tmp_path / "lenient.har", [bare, timed])
    db = str(tmp_path / "m.db")
    assert cli.main(["learn", "-q", str(har), "--db", db]) == 0
    capsys.readouterr()
    assert cli.main(["endpoints", "--db", db, "--json"]) == 0
    [ep] = json.loads(capsys.readouterr().out)
    assert ep["count"] == 2 and ep["latency_ms"]["p50"] == 12.0  # only the timed entry has a latency


def test_har_entries_that_cannot_be_read_are_skipped_by_index(tmp_path, capsys):
    no_url = har_entry("GET", "https://api.example.com/x", 200, {"id": 1})
    del no_url["request"]["url"]
    no_status = har_entry("GET", "https://api.example.com/y", 200, {"id": 1})
    del no_status["response"]["status"]
    good = har_entry("GET", "https://api.example.com/z", 200, {"id": 1})
    har = write_har(tmp_path / "mixed.har", [no_url, good, no_status, "junk"])
    db = str(tmp_path / "m.db")
    assert cli.main(["learn", "-q", str(har), "--db", db]) == 1
    err = capsys.readouterr().err
    for index, field in ((0, "no request.url"), (2, "no response.status"), (3, "not an object")):
        assert f"mimic learn: {har}: HAR entry {index} skipped: {field}" in err
    assert _endpoints(db, capsys) == [("api.example.com", "/z")]


def test_a_har_entry_nested_too_deep_to_read_is_skipped_alone(tmp_path, capsys):
    """One entry holding 100,000 nested lists (Python's JSON reader recurses): that entry is skipped,
    the others are learned (the whole file was skipped before, its reader process dead)."""
    entries = [har_entry("GET", f"https://api.example.com/orders/{i}", 200, {"id": i}) for i in range(3)]
    har = write_har(tmp_path / "deep.har", entries)
    text = har.read_text()
    cut = text.index('"request"', text.index('"request"') + 1)  # the second entry
    har.write_text(text[:cut] + '"x": ' + "[" * 100_000 + "]" * 100_000 + ", " + text[cut:])
    db = str(tmp_path / "m.db")
    assert cli.main(["learn", "-q", str(har), "--db", db]) == 1
    err = capsys.readouterr().err
    assert f"mimic learn: {har}: HAR entry 1 skipped: JSON nested too deep to read" in err
    assert "learned 2 flows" in err
    assert "cut short" not in err
    # the same file cut inside its third entry: the deep one skipped, the cut told, the first learned
    whole = har.read_bytes()
    har.write_bytes(whole[: whole.rindex(b'"request"')])
    assert cli.main(["learn", "-q", str(har), "--db", str(tmp_path / "cut.db")]) == 1
    err = capsys.readouterr().err
    assert "HAR entry 1 skipped: JSON nested too deep to read" in err
    assert "HAR file cut short (byte " in err and "the entry before the cut is read" in err


def test_a_har_file_cut_short_keeps_its_whole_entries(tmp_path, capsys):
    """A browser killed while saving: the entries written whole before the cut are learned."""
    entries = [har_entry("GET", f"https://api.example.com/orders/{i}", 200, {"id": i}) for i in range(4)]
    har = write_har(tmp_path / "cut.har", entries)
    whole = har.read_bytes()
    har.write_bytes(whole[: whole.rindex(b'"request"')])  # cut inside the fourth entry
    db = str(tmp_path / "m.db")
    assert cli.main(["learn", "-q", str(har), "--db", db]) == 1
    err = capsys.readouterr().err
    assert "HAR file cut short" in err and "the 3 entries before the cut are read" in err
    capsys.readouterr()
    assert cli.main(["endpoints", "--db", db, "--json"]) == 0
    [ep] = json.loads(capsys.readouterr().out)
    assert ep["count"] == 3


def test_drift_is_told_at_the_end_under_the_ids_mimic_drift_shows(tmp_path, capsys):
    exchanges = [("GET", f"https://api.example.com/things/{1000 + i}", 200, {"id": 1000 + i, "size": 3, "name": "x"})
                 for i in range(60)]
    exchanges += [("GET", f"https://api.example.com/things/{2000 + i}", 200, {"id": 2000 + i, "name": "x"})
                  for i in range(12)]  # a field every answer had is gone
    capture = write_flows(tmp_path / "drift.mitm", exchanges)
    db = str(tmp_path / "m.db")
    assert cli.main(["learn", "-q", str(capture), "--db", db]) == 0
    err = capsys.readouterr().err
    assert "1 drift alert opened: see `mimic drift" in err and "\ndrift " not in err  # (-q: counted only)
    db2 = str(tmp_path / "again.db")
    assert cli.main(["learn", str(capture), "--db", db2]) == 0
    told = [line.split()[1].rstrip(":") for line in capsys.readouterr().err.splitlines() if line.startswith("drift ")]
    assert cli.main(["drift", "--db", db2, "--json"]) == 0
    stored = [a["id"] for a in json.loads(capsys.readouterr().out) if not a.get("resolution")]
    assert told and told == stored


def test_a_store_that_cannot_be_opened_is_told_plainly(tmp_path, capsys):
    capture = write_flows(tmp_path / "one.mitm", [("GET", "https://api.example.com/one", 200, {"n": 1})])
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x13\x37 not a database" * 100)
    assert cli.main(["learn", "-q", str(capture), "--db", str(junk)]) == 1
    assert cli.main(["endpoints", "--db", str(junk)]) == 1
    err = capsys.readouterr().err
    assert err.count(f"mimic: cannot open the store {junk}: file is not a database") == 2 and "Traceback" not in err


def test_a_reader_lost_mid_file_says_how_much_of_it_was_learned(tmp_path, capsys, monkeypatch):
    capture = write_flows(tmp_path / "c.mitm", [("GET", f"https://api.example.com/items/{1000 + i}", 200, {"id": i})
                                                for i in range(300)])
    real = cli.batches

    def dying(path, *args, **kwargs):
        for i, got in enumerate(real(path, *args, **kwargs)):
            if i == 1:
                raise CaptureError(f"{path}: the reader process stopped unexpectedly")
            yield got

    monkeypatch.setattr(cli, "batches", dying)
    db = str(tmp_path / "m.db")
    assert cli.main(["learn", "-q", str(capture), "--db", db]) == 1
    err = capsys.readouterr().err
    assert f"{capture}: the reader process stopped unexpectedly: the rest of the file was not read (256 flows of it learned)" in err
    assert "learned 256 flows" in err


def test_an_empty_capture_is_told_but_is_no_error(tmp_path, capsys):
    empty = tmp_path / "empty.mitm"
    empty.write_bytes(b"")
    assert cli.main(["learn", "-q", str(empty), "--db", str(tmp_path / "m.db")]) == 0
    assert f"mimic learn: {empty}: empty: nothing to learn" in capsys.readouterr().err
