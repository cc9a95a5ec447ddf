"""Secrets of every kind in requests and answers, through a real mitmdump in record mode (which keeps the
most: learning, the inspector's request log and every exchange), then counted in the SQLite store file and
in every export. Each secret is new to this run, so any occurrence found is a leak."""
from __future__ import annotations

import base64
import json
import secrets
import string
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from harness import Proxy, Row, backend, mitmdump, request

NAME = "secrets_leak"
TITLE = "secrets in the store and the exports"
MIMIC = Path(sys.executable).with_name("mimic")
EXPORTS = ("openapi", "typescript", "pydantic", "jsonschema", "har", "flows")
ALNUM = string.ascii_letters + string.digits


def _rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _card() -> str:
    """A Luhn-valid 16-digit Visa number."""
    digits = [4] + [secrets.randbelow(10) for _ in range(14)]
    total = sum(d if i % 2 else (2 * d if 2 * d < 10 else 2 * d - 9) for i, d in enumerate(reversed(digits)))
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def make_secrets() -> dict[str, str]:
    """Name -> a fresh secret value of that kind."""
    jwt = ".".join((_b64url(b'{"alg":"HS256","typ":"JWT"}'), _b64url(json.dumps({"sub": _rand(12)}).encode()),
                    _b64url(secrets.token_bytes(32))))
    pem_body = base64.b64encode(secrets.token_bytes(96)).decode()
    return {
        "bearer token": _rand(40), "basic auth password": "pw-" + _rand(20), "session cookie": _rand(32),
        "csrf cookie": _rand(32), "X-Api-Key header": _rand(32), "api_key query": _rand(32),
        "access_token query": _rand(32), "password query": "pw-" + _rand(16), "JWT in path": jwt,
        "password field": "pw-" + _rand(18), "client_secret field": _rand(40),
        "AWS access key id": "AKIA" + _rand(16, string.ascii_uppercase + string.digits),
        "AWS secret key": _rand(40), "card number (string)": _card(), "card number (JSON number)": _card(),
        "GitHub token": "ghp_" + _rand(36), "Slack token": f"xoxb-{_rand(12, string.digits)}-{_rand(24)}",
        "Stripe key": "sk_live_" + _rand(24), "Google API key": "AIza" + _rand(35),
        "PEM private key": f"-----BEGIN RSA PRIVATE KEY-----\n{pem_body}\n-----END RSA PRIVATE KEY-----",
        "form password": "pw-" + _rand(18), "Set-Cookie (answer)": _rand(32),
        "access_token (answer)": jwt.rsplit(".", 1)[0] + "." + _b64url(secrets.token_bytes(32)),
        "refresh_token (answer)": _rand(40), "X-Auth-Token (answer)": _rand(32),
        "OpenAI key": "sk-proj-" + _rand(48), "Anthropic key": "sk-ant-api03-" + _rand(60),
        "GitLab token": "glpat-" + _rand(20), "npm token": "npm_" + _rand(36),
        "Slack webhook": _rand(24), "jwt query": _rand(24),
        "Basic credential in text": base64.b64encode(f"ci:{_rand(16)}".encode()).decode(),
    }


def needles(name: str, value: str) -> list[str]:
    """What to look for: the parts of a secret that survive any encoding (JSON, percent, base64 headers)."""
    if name == "PEM private key":
        return [value.split("\n")[1][:40]]
    if name in ("JWT in path", "access_token (answer)"):
        return value.split(".")[1:]  # the payload and the signature (the header is the same in every JWT)
    if name == "basic auth password":
        return [value, base64.b64encode(f"alice:{value}".encode()).decode()]
    return [value]


def answer_handler(s: dict[str, str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Answers every request with the secrets an auth server hands out, and echoes the request body."""
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self) -> None:
            sent = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                echo = json.loads(sent) if sent else None
            except ValueError:
                echo = sent.decode(errors="replace")
            body = json.dumps({
                "access_token": s["access_token (answer)"], "refresh_token": s["refresh_token (answer)"],
                "token_type": "Bearer", "card": {"number": int(s["card number (JSON number)"])},
                "keys": {"github": s["GitHub token"], "slack": s["Slack token"], "stripe": s["Stripe key"],
                         "google": s["Google API key"], "pem": s["PEM private key"]},
                "aws": {"aws_access_key_id": s["AWS access key id"], "aws_secret_access_key": s["AWS secret key"]},
                "echo": echo}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Set-Cookie", f"sid={s['Set-Cookie (answer)']}; HttpOnly; Path=/")
            self.send_header("X-Auth-Token", s["X-Auth-Token (answer)"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

    return Handler


def send(proxy: Proxy, s: dict[str, str]) -> int:
    """Every secret in a request, three times over (so that learning sees repeats); the answers carry the
    rest. Returns the requests answered."""
    basic = base64.b64encode(f"alice:{s['basic auth password']}".encode()).decode()
    cookie = f"session={s['session cookie']}; csrftoken={s['csrf cookie']}"
    body = json.dumps({"user": "alice", "password": s["password field"], "client_secret": s["client_secret field"],
                       "note": f"my key is {s['AWS access key id']}, the secret {s['AWS secret key']}",
                       "aws_secret_access_key": s["AWS secret key"], "card_number": s["card number (string)"],
                       "payment": {"number": int(s["card number (JSON number)"])},
                       "comment": f"tokens {s['GitHub token']} {s['Slack token']} {s['Stripe key']}",
                       "ai": f"{s['OpenAI key']} and {s['Anthropic key']}", "ci": f"{s['GitLab token']}, {s['npm token']}",
                       "hook": f"https://hooks.slack.com/services/T0A1B2C3D/B0A1B2C3D/{s['Slack webhook']}",
                       "header": f"Basic {s['Basic credential in text']}",
                       "google": s["Google API key"], "ssh": s["PEM private key"]}).encode()
    form = f"user=alice&password={s['form password']}&remember=1".encode()
    answered = 0
    for i in range(3):
        for method, path, headers, payload in (
            ("GET", f"/sessions/{s['JWT in path']}", {"Authorization": f"Bearer {s['bearer token']}"}, None),
            ("GET", f"/me?api_key={s['api_key query']}&access_token={s['access_token query']}&page={i}",
             {"Cookie": cookie, "X-Api-Key": s["X-Api-Key header"]}, None),
            ("GET", f"/login?user=alice&password={s['password query']}", {"Authorization": f"Basic {basic}"}, None),
            ("GET", f"/embed?jwt={s['jwt query']}&page={i}", {}, None),
            ("POST", "/accounts", {"Content-Type": "application/json", "Cookie": cookie}, body),
            ("POST", "/login", {"Content-Type": "application/x-www-form-urlencoded"}, form),
        ):
            answered += request(proxy.port, method, path, headers=headers, body=payload).status == 200
    return answered


def occurrences(blob: bytes, s: dict[str, str]) -> dict[str, int]:
    return {name: sum(blob.count(n.encode()) for n in needles(name, value)) for name, value in s.items()}


def run(workdir: Path, upstream: str, quick: bool) -> list[Row]:
    s = make_secrets()
    with backend(answer_handler(s)) as secret_upstream:
        with mitmdump(workdir, secret_upstream, "mimic_mode=record", name="secrets") as proxy:
            answered = send(proxy, s)
            status = proxy.stop()
    places: dict[str, bytes] = {}
    places["SQLite store"] = b"".join(p.read_bytes() for p in workdir.glob("secrets.db*"))
    failed_exports = []
    for kind in EXPORTS:
        out = workdir / f"export.{kind}"
        done = subprocess.run([str(MIMIC), "export", kind, "--db",
                               str(proxy.db), "-o", str(out)], capture_output=True, timeout=300)
        if done.returncode != 0 or not out.exists():
            failed_exports.append(f"{kind} ({done.returncode}: {done.stderr.decode(errors='replace')[-200:]})")
            continue
        places[f"export {kind}"] = out.read_bytes()
    found = {place: occurrences(blob, s) for place, blob in places.items()}
    leaks = {place: {k: v for k, v in counts.items() if v} for place, counts in found.items()}
    total = sum(sum(c.values()) for c in leaks.values())
    leaked = "; ".join(f"{place}: " + ", ".join(f"{k} ×{v}" for k, v in c.items()) for place, c in leaks.items() if c)
    rows = [Row(NAME, f"{len(s)} kinds of secret (headers, cookies, query, path, JSON and form bodies, answers), "
                f"{answered} requests in record mode; searched in the store file and {len(places) - 1} exports",
                "0 found", f"{total} found" + (f" ({leaked})" if leaked else ""), total == 0 and answered == 18)]
    if failed_exports or status != 0:
        rows.append(Row(NAME, "the exports themselves", "all run", f"proxy exit {status}; failed: "
                        + (", ".join(failed_exports) or "none"), False))
    return rows
