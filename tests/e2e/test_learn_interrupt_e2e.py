"""A `mimic learn` stopped by Ctrl-C (sent to its whole process group, as a terminal does) or SIGTERM
keeps what it learned, says so, and leaves no traceback and no reader process behind."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import MIMIC, _env, run_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from captures import write_flows  # noqa: E402


# A terminal's Ctrl-C reaches a command whose SIGINT is live. Tests started in the background (`nohup`,
# `&` in a script) inherit SIGINT ignored, which `mimic learn` rightly keeps ignoring: the command
# is run with SIGINT back to its default, then exec'd (the same process, so the same signals reach it).
_LIVE_SIGINT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                "os.execv(sys.argv[1], sys.argv[1:])")


@pytest.fixture(scope="module")
def long_capture(tmp_path_factory) -> Path:
    """About 40,000 flows: a few seconds of learning, time enough to be interrupted."""
    d = tmp_path_factory.mktemp("capture")
    one = write_flows(d / "one.mitm", [("GET", f"https://api.example.com/items/{1000 + i}", 200,
                                        {"id": 1000 + i, "name": f"item {i}"}) for i in range(400)])
    big = d / "long.mitm"
    big.write_bytes(one.read_bytes() * 100)
    return big


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_a_stopped_learn_saves_what_it_learned(long_capture, tmp_path, how):
    db = str(tmp_path / "m.db")
    proc = subprocess.Popen([sys.executable, "-c", _LIVE_SIGINT, str(MIMIC), "learn", str(long_capture), "--db", db],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(), start_new_session=True)
    assert proc.stderr is not None
    seen = b""
    while b" flows " not in seen:  # the progress bar counts the first batch learned
        chunk = os.read(proc.stderr.fileno(), 4096)
        assert chunk, seen.decode(errors="replace")
        seen += chunk
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # the learner and its reader process alike
    else:
        proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == (130 if how == "ctrl-c" else 143)  # as a shell reports them
    err = (seen + rest).decode(errors="replace")
    assert "mimic learn: interrupted after " in err and "what was learned is saved" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    learned = int(err.split("interrupted after ")[1].split()[0])
    assert 0 < learned < 40_000
    endpoints = json.loads(run_cli("endpoints", "--db", db, "--json").stdout)
    assert [(e["template"], e["count"]) for e in endpoints] == [("/items/{item_id}", learned)]
    # no reader left: nothing else in the command's process group
    assert subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True).stdout == b""
