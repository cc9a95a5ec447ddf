"""Secrets recognised by their shape (issue 16): credentials in fields, headers, query values, path
segments and free text that are not named as secrets never reach the store nor any export.

A real mitmdump records and learns traffic holding each well-known kind (in requests and responses),
into a real SQLite store with the request log on; then every `mimic export` kind and the store's bytes
are scanned: not one occurrence may be left.
"""
from __future__ import annotations

import json
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Backend, ProxyFactory, _Handler, fetch, run_cli, serve_http

pytestmark = pytest.mark.e2e

JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiAibWltaWMtZTJlIiwgIm4iOiAxfQ."
       "c2lnbmF0dXJlLW1pbWljLWUyZQ")
AWS_KEY = "AKIAZ7Q2MIMICTEST001"
AWS_TEMP_KEY = "ASIAQ4MIMICTEST00X2Y"
GITHUB = "ghp_MimicTest0123456789abcdefghijklmnopqr"
GITHUB_OAUTH = "gho_MimicTest0123456789abcdefghijklmnopqr"
GITHUB_PAT = "github_pat_11MIMICTEST0123456789_abcdefghijklmnopqrstuvwxyz"
SLACK = "xoxb-2233445566-mimictest-AbCdEfGhIj"
STRIPE = "sk_live_MimicTest0123456789abcd"
STRIPE_RESTRICTED = "rk_live_MimicTest0123456789wxyz"
GOOGLE = "AIzaSyMimicTest-0123456789_abcdefghijkl"
PEM_BODY = "MIIEowIBAAKCAQEAmimicTestKeyMaterialXYZ"
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----\n"
VISA = "4111 1111 1111 1111"
MASTERCARD = 5555555555554444      # a JSON number
AMEX = "378282246310005"
BEARER = "mimicBearerToken0123456789"
AWS_SECRET_FIELD_VALUE = "wJalrXUtnFEMI-mimic-e2e-secret-access"
OAUTH_CODE = "SplxlOBeZQQYbYS6WxSbIAmimic"  # an authorization code, in a redirect's URL
URL_KEY = "mimicUrlKey0123456789"             # an API key in a link's query string

# What must not appear anywhere (cards also without their spaces)
NEEDLES = (JWT, JWT.split(".")[1], AWS_KEY, AWS_TEMP_KEY, GITHUB, GITHUB_OAUTH, GITHUB_PAT, SLACK, STRIPE,
           STRIPE_RESTRICTED, GOOGLE, PEM_BODY, VISA, VISA.replace(" ", ""), str(MASTERCARD), AMEX, BEARER,
           AWS_SECRET_FIELD_VALUE, OAUTH_CODE, URL_KEY)


def _doc(i: int) -> dict:
    """A document whose field names say nothing about secrets."""
    return {"id": i, "owner": AWS_KEY, "temp": AWS_TEMP_KEY, "repo_auth": GITHUB, "oauth": GITHUB_OAUTH,
            "pat": GITHUB_PAT, "hook": SLACK, "billing": STRIPE, "restricted": STRIPE_RESTRICTED, "maps": GOOGLE,
            "pem": PEM, "card": VISA, "card_no": MASTERCARD, "amex": AMEX, "jwt": JWT,
            "note": f"call with Bearer {BEARER} and key {AWS_KEY}, card {VISA}; thanks",
            "aws_access_key_id": AWS_KEY, "aws_secret_access_key": AWS_SECRET_FIELD_VALUE,
            "api_key": STRIPE, "client_secret": GOOGLE, "private_key": PEM,
            "map": f"https://maps.example/tiles.js?v=3&key={URL_KEY}"}


class _Secrets(_Handler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/notes"):
            text = f"owner {AWS_KEY}\ncard {VISA}\n{PEM}token {GITHUB} {SLACK} {STRIPE} {GOOGLE} Bearer {BEARER}\n"
            return self._send(200, text.encode(), "text/plain", X_Debug=f"key={AWS_KEY} jwt={JWT}")
        return self._send(200, json.dumps(_doc(1)).encode(), X_Trace=AWS_TEMP_KEY,
                          Location=f"https://app.example/callback?code={OAUTH_CODE}&state=af0ifjsldkj")

    do_GET = _answer
    do_POST = _answer


@pytest.fixture
def secrets_backend() -> Iterator[Backend]:
    with serve_http(_Secrets) as b:
        yield b


def _traffic(port: int) -> None:
    headers = {"X-Note": f"{SLACK} {GITHUB_PAT}", "X-Client": AWS_KEY, "Content-Type": "application/json",
               "Referer": f"https://app.example/search?KEY={URL_KEY}&q=shoes"}
    for i in range(6):
        assert fetch(port, "GET", f"/sessions/{JWT}", headers=headers)[0] == 200
        assert fetch(port, "GET", f"/keys/{AWS_KEY}/usage?ref={GITHUB}&card={VISA.replace(' ', '')}&q={GOOGLE}",
                     headers=headers)[0] == 200
        assert fetch(port, "POST", "/payments", json.dumps(_doc(i)).encode(), headers)[0] == 200
        assert fetch(port, "POST", "/notes", f"note: key {AWS_KEY} card {VISA} pk {PEM}".encode(),
                     {"Content-Type": "text/plain", "X-Ref": STRIPE_RESTRICTED})[0] == 200
        form = urllib.parse.urlencode({"comment": f"{AWS_TEMP_KEY} {AMEX}", "hook": SLACK}).encode()
        assert fetch(port, "POST", "/forms", form, {"Content-Type": "application/x-www-form-urlencoded"})[0] == 200


def _leaks(text: str) -> list[str]:
    return [n for n in NEEDLES if n in text]


def test_no_secret_reaches_the_store_or_any_export(tmp_path: Path, secrets_backend: Backend) -> None:
    db = tmp_path / "secrets.db"
    factory = ProxyFactory(tmp_path, secrets_backend)
    try:
        p = factory.start(str(db), "--set", "mimic_mode=record")
        _traffic(p.port)
        p.stop()
        assert p.returncode == 0 and "Traceback" not in p.output, p.output
    finally:
        factory.cleanup()
    exported: dict[str, str] = {}
    for kind in ("openapi", "typescript", "pydantic", "jsonschema", "har", "flows"):
        out = tmp_path / f"export.{kind}"
        run_cli("export", kind, "--db", str(db), "-o", str(out))
        exported[kind] = out.read_bytes().decode("utf-8", "replace")
    assert "/payments" in exported["openapi"] and "/notes" in exported["har"]  # the exports are not empty
    assert "[REDACTED]" in exported["har"]
    for kind, text in exported.items():
        assert _leaks(text) == [], kind
    with sqlite3.connect(db) as conn:  # every place a string is stored was filled
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                  for t in ("endpoints", "recordings", "request_log")}
        paths = {row[0] for row in conn.execute("SELECT path FROM request_log")}
    assert all(counts.values()), counts
    assert "/sessions/[REDACTED]" in paths and "/keys/[REDACTED]/usage" in paths, paths
    store_bytes = b"".join(f.read_bytes() for f in tmp_path.glob("secrets.db*"))
    assert b"/payments" in store_bytes and b"/sessions" in store_bytes
    assert _leaks(store_bytes.decode("utf-8", "replace")) == []
