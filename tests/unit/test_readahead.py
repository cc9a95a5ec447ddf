"""Reading ahead in a child process must hand over exactly what reading in-process gives."""
from __future__ import annotations

import dataclasses
import json
import multiprocessing
import pickle
import threading

import pytest
from mitmproxy import io
from mitmproxy.test import tflow

from mimic_addon.cli import main
from mimic_addon.learn import readahead
from mimic_addon.learn.brain import Brain
from mimic_addon.learn.capture import CaptureError, CaptureReader
from mimic_addon.learn.digest import digest

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
    return [dataclasses.asdict(dataclasses.replace(o, digest=None)) for o in observations]


def _fields(d) -> tuple:
    return tuple(getattr(d, f.name) for f in dataclasses.fields(d)) + (d.echo.any,)


def test_batches_in_order_with_offsets(flow_file):
    got = list(readahead.batches(flow_file, MAX_BODY, demand=lambda: (0, 0)))
    assert [len(b) for b, _ in got] == [256, 256, 88]
    offsets = [offset for _, offset in got]
    assert offsets == sorted(offsets) and offsets[-1] == flow_file.stat().st_size
    read_here = list(CaptureReader(flow_file, MAX_BODY))
    assert _asdicts(o for b, _ in got for o in b) == _asdicts(read_here)
    # those the reader digested (while it kept ahead: how many is a matter of timing) carry what
    # the learner would have computed itself
    for o, mine in zip((o for b, _ in got for o in b), read_here):
        assert o.digest is None or _fields(o.digest) == _fields(digest(mine).redact())


def test_no_digests_unless_the_learner_asks(flow_file):
    assert all(o.digest is None for b, _ in readahead.batches(flow_file, MAX_BODY) for o in b)


def _produced(flow_file, percent: int) -> list:
    """What the reader process would send, run here in a thread (digesting `percent` % of the exchanges)."""
    receiver, sender = multiprocessing.Pipe(duplex=False)
    producer = threading.Thread(target=readahead._produce,
                                args=(flow_file, MAX_BODY, sender, multiprocessing.RawValue("b", percent)))
    producer.start()
    got = []
    while receiver.poll(30) and (message := receiver.recv())[0] == "batch":
        got += message[1][0]
    producer.join()
    assert message[0] == "done"
    return got


@pytest.mark.parametrize("percent", [100, 50, 0])
def test_the_reader_digests_the_share_asked_for(flow_file, percent):
    got = _produced(flow_file, percent)
    read_here = list(CaptureReader(flow_file, MAX_BODY))
    assert _asdicts(got) == _asdicts(read_here)
    # all but the first batch (sent as soon as read: the learner waits for it), in the share asked for
    assert all(o.digest is None for o in got[:256])
    assert sum(o.digest is not None for o in got[256:]) == len(got[256:]) * percent // 100
    for o, mine in zip(got, read_here):
        assert o.digest is None or _fields(o.digest) == _fields(digest(mine).redact())


def test_a_reader_whose_sends_fail_stops_and_closes_the_pipe(flow_file):
    """The learner gone (or a message that cannot be sent): the reader neither hangs on its full
    queue nor reads on, and the pipe is closed."""
    class Gone:
        closed = 0

        def send(self, message):
            raise BrokenPipeError

        def close(self):
            self.closed += 1

    gone = Gone()
    producer = threading.Thread(target=readahead._produce,
                                args=(flow_file, MAX_BODY, gone, multiprocessing.RawValue("b", 100)))
    producer.start()
    producer.join(30)
    assert not producer.is_alive() and gone.closed


def test_a_digest_teaches_what_the_learner_learns_by_itself(tmp_path):
    """Digested ahead or as it goes, the same exchanges make the same model (secrets redacted)."""
    path = tmp_path / "flows.mitm"
    with path.open("wb") as f:
        writer = io.FlowWriter(f)
        for i in range(300):
            team = ("red", "blue", "green")[i % 3]
            flow = tflow.tflow(resp=True)
            flow.request.path = f"/teams/{team}/members/{i}?token=s3cr3t{i}&page={i % 4}"
            flow.response.headers["content-type"] = "application/json"
            flow.response.content = json.dumps({"id": i, "team": team, "password": f"p{i}", "tags": [f"a{i % 4}"]}).encode()
            writer.add(flow)
    models = []
    for ahead in (True, False):
        brain = Brain()
        for batch, _ in readahead._read(path, MAX_BODY, lambda text: None):
            if ahead:  # as the reader process sends them: pickled
                readahead._digest(batch)
                batch = pickle.loads(pickle.dumps(batch))
            for obs in batch:
                brain.learn(obs)
        brain.settle()
        models.append(([e.to_dict() for e in brain.endpoints()], {h: m.tree.to_dict() for h, m in brain.hosts.items()}))
    assert models[0] == models[1]
    assert "s3cr3t" not in json.dumps(models[0]) and "/teams/{}/members/{}" in json.dumps(models[0])


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


def test_the_share_of_digests_follows_the_batches_ready_ahead():
    step, lead = readahead.SHARE_STEP, readahead.LEAD
    assert readahead.next_share(50, lead + 1, used=True) == 50 + step  # the reader is ahead: it digests more
    assert readahead.next_share(50, lead - 1, used=True) == 50 - step  # it fell behind: it leaves more to the learner
    assert readahead.next_share(50, lead, used=True) == 50
    assert readahead.next_share(100, lead + 3, used=True) == 100 and readahead.next_share(0, 0, used=True) == 0
    assert readahead.next_share(80, lead + 3, used=False) == 0  # the learner mostly counts: no digests

