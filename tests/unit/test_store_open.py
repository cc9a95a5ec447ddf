"""A store that cannot be opened is one line naming it, a database URL's password never shown (in the CLI,
the standalone admin, the proxy's options and its log)."""
from __future__ import annotations

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons

from mimic_addon import cli
from mimic_addon.addon import Mimic
from mimic_addon.control import standalone
from mimic_addon.store import StoreError
from mimic_addon.store.store import open_store
from mimic_addon.store.urls import shown

DOWN = "postgresql://mimic:S3cretPW@127.0.0.1:1/nowhere"  # (port 1: refused at once)
HIDDEN = "postgresql://mimic:***@127.0.0.1:1/nowhere"


def test_a_url_is_shown_without_its_password():
    assert shown(DOWN) == HIDDEN
    assert shown("postgresql://127.0.0.1/db") == "postgresql://127.0.0.1/db"
    assert shown("/data/mimic.db") == "/data/mimic.db"
    assert shown("postgresql://u:S3cretPW@h:port/db") == "postgresql://..."  # (no URL SQLAlchemy reads)


def test_an_unreachable_store_is_one_line_without_the_password(capsys):
    with pytest.raises(StoreError) as e:
        open_store(DOWN)
    assert str(e.value).startswith(f"cannot open the store {HIDDEN}: ") and "\n" not in str(e.value)
    assert "Connection refused" in str(e.value) and "S3cretPW" not in str(e.value)
    assert cli.main(["endpoints", "--db", DOWN]) == 1
    assert standalone.run(DOWN, "127.0.0.1:18997", None) == 1
    assert standalone.reset(DOWN) == 1
    err = capsys.readouterr().err
    assert err.count(f"cannot open the store {HIDDEN}") == 3 and "S3cretPW" not in err and "Traceback" not in err


def test_the_proxy_refuses_an_unreachable_store_as_an_option_error():
    m = Mimic()
    with taddons.context(m) as tctx:
        with pytest.raises(exceptions.OptionsError) as e:
            tctx.configure(m, mimic_db=DOWN)
    assert f"cannot open the store {HIDDEN}" in str(e.value) and "S3cretPW" not in str(e.value)


def test_a_password_in_the_query_is_hidden_too_and_a_bad_url_is_one_line(capsys):
    assert shown("postgresql://u@h/db?password=S3cret&sslmode=require") == "postgresql://u@h/db?password=***&sslmode=require"
    assert cli.main(["endpoints", "--db", "postgresql://u:S3cretPW@h:port/db"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mimic: cannot open the store postgresql://...: ") and "Traceback" not in err
    assert "S3cretPW" not in err
