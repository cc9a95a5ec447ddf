from __future__ import annotations

from mitmproxy.test import tutils

from mimic_addon.serve.request_input import first_values


def test_first_values_keeps_the_first_of_repeated_names_in_one_pass():
    req = tutils.treq(path=b"/items?" + b"&".join(b"p%d=%d" % (i % 3, i) for i in range(5_000)))
    assert first_values(req.query.fields) == {"p0": "0", "p1": "1", "p2": "2"}
    assert first_values(req.query.fields) == {k: req.query[k] for k in req.query}  # what a key-by-key read gives
