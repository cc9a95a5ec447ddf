"""Reading ahead in a child process must hand over exactly what reading in-process gives."""
from __future__ import annotations

import dataclasses

import pytest
from mitmproxy import io
from mitmproxy.test import tflow

from mimic_addon.cli import main
from mimic_addon.learn import readahead
from mimic_addon.learn.capture import CaptureError, CaptureReader

MAX_BODY = 1 << 20


@pytest.fixture
def flow_file(tmp_path):
    path = tmp_path / "flows.mitm"
    with path.open("wb") as f:
        writer = io.FlowWriter(f)
        for i in range(600):
            flow = tflow.tflow(resp=True)
            flow.request.path = f"/items/{i}?page={i % 7}"
            writer.add(flow)
    return path


def _asdicts(observations) -> list[dict]:
    return [dataclasses.asdict(o) for o in observations]


def test_batches_in_order_with_offsets(flow_file):
    got = list(readahead.batches(flow_file, MAX_BODY))
    assert [len(b) for b, _ in got] == [256, 256, 88]
    offsets = [offset for _, offset in got]
    assert offsets == sorted(offsets) and offsets[-1] == flow_file.stat().st_size
    assert _asdicts(o for b, _ in got for o in b) == _asdicts(CaptureReader(flow_file, MAX_BODY))


def test_problems_and_errors_cross_the_process_boundary(flow_file, tmp_path):
    size = flow_file.stat().st_size
    flow_file.write_bytes(flow_file.read_bytes() + b"7:garbage")
    problems: list[str] = []
    got = list(readahead.batches(flow_file, MAX_BODY, problems.append))
    assert sum(len(b) for b, _ in got) == 600
    assert problems == [f"invalid flow data at byte {size}: the file ends inside a record of 10 bytes "
                        "(an interrupted capture?); the last 9 bytes were not read"]
    broken = tmp_path / "broken.mitm"
    broken.write_bytes(b"7:garbage")
    with pytest.raises(CaptureError, match="broken.mitm: nothing could be read: invalid flow data at byte 0"):
        list(readahead.batches(broken, MAX_BODY))


def test_stopping_early_ends_the_reader(flow_file):
    it = readahead.batches(flow_file, MAX_BODY)
    next(it)
    it.close()  # must not hang waiting for the child


def test_cli_reports_broken_files(tmp_path, capsys):
    path = tmp_path / "broken.mitm"
    path.write_bytes(b"12:not a flow!")
    assert main(["learn", "-q", str(path), "--db", str(tmp_path / "m.db")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mimic learn: ") and "broken.mitm" in err and "Traceback" not in err
