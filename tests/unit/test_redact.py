from __future__ import annotations

import pytest

from mimic_addon.model.redact import (
    REDACTED,
    is_form_body,
    is_sensitive_name,
    redact_form,
    redact_headers,
    redact_json,
    redact_query,
    redact_text,
    redact_text_body,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    ("name", "sensitive"),
    [
        ("password", True), ("Password", True), ("user_password", True), ("api_key", True), ("apiKey", True),
        ("X-API-Key", True), ("access_token", True), ("refreshToken", True), ("client-secret", True),
        ("card_number", True), ("CVV", True), ("ssn", True), ("session_id", True), ("sig", True),
        ("username", False), ("email", False), ("accept", False), ("author", False), ("id", False),
        ("key", False), ("status", False), ("description", False),
    ],
)
def test_is_sensitive_name(name, sensitive):
    assert is_sensitive_name(name) is sensitive


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("Authorization", "Bearer abc.def", f"Bearer {REDACTED}"),
        ("authorization", "Basic dXNlcjpwYXNz", f"Basic {REDACTED}"),
        ("Authorization", "rawtokenwithoutscheme", REDACTED),
        ("Proxy-Authorization", "Digest username=x", f"Digest {REDACTED}"),
        ("Cookie", "sid=abc; theme=dark", f"sid={REDACTED}; theme={REDACTED}"),
        ("Set-Cookie", "sid=abc; Path=/; HttpOnly", f"sid={REDACTED}; Path=/; HttpOnly"),
        ("X-API-Key", "k-123", REDACTED),
        ("X-Auth-Token", "t", REDACTED),
        ("X-Amz-Security-Token", "t", REDACTED),
        ("X-Session", "s", REDACTED),
        ("X-Client-Secret", "s", REDACTED),
        ("X-Custom-Auth", "s", REDACTED),
        ("Accept", "application/json", "application/json"),
        ("Content-Type", "application/json", "application/json"),
        ("User-Agent", "curl/8.0", "curl/8.0"),
        ("WWW-Authenticate", 'Bearer realm="api"', 'Bearer realm="api"'),
        ("X-Forwarded-Credentials", "c", REDACTED),
        ("X-Debug", f"forwarded Bearer {JWT}", f"forwarded Bearer {REDACTED}"),
    ],
)
def test_redact_headers(header, value, expected):
    assert redact_headers([(header, value)]) == [(header, expected)]


def test_redact_headers_keeps_order_and_duplicates():
    headers = [("Accept", "*/*"), ("Cookie", "a=1"), ("Cookie", "b=2"), ("Host", "x")]
    assert redact_headers(headers) == [("Accept", "*/*"), ("Cookie", f"a={REDACTED}"), ("Cookie", f"b={REDACTED}"), ("Host", "x")]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("token", "abc", REDACTED), ("access_token", "abc", REDACTED), ("api_key", "abc", REDACTED),
        ("apikey", "abc", REDACTED), ("key", "abc", REDACTED), ("secret", "s", REDACTED),
        ("password", "p", REDACTED), ("pwd", "p", REDACTED), ("sig", "p", REDACTED),
        ("X-Amz-Signature", "abc", REDACTED), ("X-Amz-Credential", "AKIA/x", REDACTED),
        ("code", "oauth-code", REDACTED), ("page_token", "opaque", REDACTED),
        ("max_tokens", "100", "100"), ("page", "2", "2"), ("q", "shoes", "shoes"),
        ("redirect", f"https://x/?t={JWT}", f"https://x/?t={REDACTED}"),
    ],
)
def test_redact_query(name, value, expected):
    assert redact_query([(name, value)]) == [(name, expected)]


def test_redact_json_nested_secrets():
    body = {
        "user": {"name": "Ann", "password": "hunter2", "apiKey": "k", "author": "Bob"},
        "auth": {"access_token": "a", "refresh_token": "r", "expires_in": 3600},
        "items": [{"card_number": "4111111111111111", "cvv": 123, "amount": 5}],
        "usage": {"max_tokens": 100, "total_tokens": 42, "token_count": 7, "prompt_tokens": 3},
        "next_page_token": "opaque",
        "flags": {"password_set": True, "secret": None},
        "pin": 1234,
    }
    assert redact_json(body) == {
        "user": {"name": "Ann", "password": REDACTED, "apiKey": REDACTED, "author": "Bob"},
        "auth": {"access_token": REDACTED, "refresh_token": REDACTED, "expires_in": 0},
        "items": [{"card_number": REDACTED, "cvv": REDACTED, "amount": 5}],
        "usage": {"max_tokens": 100, "total_tokens": 42, "token_count": 7, "prompt_tokens": 3},
        "next_page_token": REDACTED,
        "flags": {"password_set": True, "secret": None},
        "pin": REDACTED,
    }


def test_redact_json_does_not_mutate_its_input():
    body = {"a": [{"password": "x"}], "b": [(1, "y")]}
    redact_json(body)
    assert body == {"a": [{"password": "x"}], "b": [(1, "y")]}


def test_redact_json_copies_only_what_changed():
    clean = {"id": 1, "tags": ["a", "b"], "owner": {"name": "Ann", "scores": [1.5, None, True]}}
    assert redact_json(clean) is clean
    body = {"user": {"password": "x", "name": "Ann"}, "items": [{"id": 1}, {"token": "t"}], "meta": {"n": 2}}
    out = redact_json(body)
    assert out == {"user": {"password": REDACTED, "name": "Ann"}, "items": [{"id": 1}, {"token": REDACTED}],
                   "meta": {"n": 2}}
    assert list(out["user"]) == ["password", "name"]
    assert out["meta"] is body["meta"] and out["items"][0] is body["items"][0]
    assert out["user"] is not body["user"] and out["items"] is not body["items"]


def test_redact_json_turns_tuples_into_lists():
    assert redact_json((1, "x")) == [1, "x"]
    assert redact_json({"a": ("k", {"secret": "s"})}) == {"a": ["k", {"secret": REDACTED}]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (JWT, REDACTED),
        (f"Bearer {JWT}", f"Bearer {REDACTED}"),
        ("use bearer abc123 to log in", f"use bearer {REDACTED} to log in"),
        ("plain text with no secrets", "plain text with no secrets"),
        ("eyJ but not a jwt", "eyJ but not a jwt"),
        ("www.example.com", "www.example.com"),
        (42, 42),
        (None, None),
    ],
)
def test_redact_json_scrubs_secret_looking_values_anywhere(value, expected):
    assert redact_json({"note": value}) == {"note": expected}
    assert redact_json([value]) == [expected]


def test_redact_json_bounds_depth():
    deep: object = {"password": "x"}
    for _ in range(5000):
        deep = {"a": deep}
    out = redact_json(deep, max_depth=10)
    for _ in range(10):
        out = out["a"]
    assert out == REDACTED


def test_redact_json_keeps_shallow_structure_within_depth():
    assert redact_json({"a": {"b": [1, {"c": "d"}]}}, max_depth=4) == {"a": {"b": [1, {"c": "d"}]}}
    assert redact_json({"a": {"b": [1, {"c": "d"}]}}, max_depth=3) == {"a": {"b": [1, REDACTED]}}


# -- text bodies -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password=hunter2", f"password={REDACTED}"),
        ("level=info password=hunter2 user=ada", f"level=info password={REDACTED} user=ada"),
        ('api_key = "s3cr3t" page=2', f'api_key = "{REDACTED}" page=2'),
        ('{"password": "hunter2", "user": "ada",', f'{{"password": "{REDACTED}", "user": "ada",'),
        ("{'client_secret': 's3cr3t'}", f"{{'client_secret': '{REDACTED}'}}"),
        ("password: correct horse battery\nuser: ada", f"password: {REDACTED}\nuser: ada"),
        ("pin: 1234, max_tokens: 100", f"pin: {REDACTED}, max_tokens: 100"),
        ("<login><user>ada</user><password>hunter2</password></login>",
         f"<login><user>ada</user><password>{REDACTED}</password></login>"),
        ('<ns:Token kind="x"><![CDATA[s3cr3t]]></ns:Token>', f'<ns:Token kind="x">{REDACTED}</ns:Token>'),
        ('<user password="hunter2" name="ada"/>', f'<user password="{REDACTED}" name="ada"/>'),
        ("Authorization: Bearer s3cr3t", f"Authorization: {REDACTED}"),
        (f"see {JWT} here", f"see {REDACTED} here"),
        *[(t, t) for t in ("author: ada, session_count: 3, url: https://x.test/a?b=1", "hello world")],
    ],
)
def test_redact_text_masks_secret_named_fields(text, expected):
    assert redact_text(text) == expected
    assert redact_text(expected) == expected  # idempotent: a redacted body redacts to itself


@pytest.mark.parametrize(
    ("text", "content_type", "form"),
    [
        ("client_id=x&client_secret=s3cr3t&password=hunter2", "", True),
        ("a=1&b=2", "text/plain; charset=utf-8", True),
        ("anything", "application/x-www-form-urlencoded", True),
        ("a=1&b=2", "text/html", True),
        ("a=1 b=2", "", False),
        ("hello", "text/plain", False),
        ("a=1&b=2", "application/xml", False),
    ],
)
def test_is_form_body_by_type_or_shape(text, content_type, form):
    assert is_form_body(text, content_type) is form


def test_redact_form_and_text_bodies():
    assert redact_text_body("client_id=x&client_secret=s3cr3t&password=hunter2", "") == \
        f"client_id=x&client_secret={REDACTED}&password={REDACTED}"
    assert redact_text_body("username=ada&password=hunter2&max_tokens=5", "application/x-www-form-urlencoded") == \
        f"username=ada&password={REDACTED}&max_tokens=5"
    assert redact_text_body("<password>hunter2</password>", "text/xml") == f"<password>{REDACTED}</password>"
    same = "q=a+b&page=%202"
    assert redact_form(same) is same  # nothing to redact: the original encoding is kept
    assert redact_form(redact_form("password=hunter2&x=1")) == f"password={REDACTED}&x=1"


# -- credentials recognised by their shape (issue 16) ------------------------------------------------------
from mimic_addon.model.redact import is_card_number, luhn_valid, redact_path  # noqa: E402

SHAPED = [
    JWT,
    "AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A",
    "ghp_" + "a1B2c3D4e5" * 4, "gho_" + "Z9y8X7w6V5" * 4, "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxp-1234-5678-abcdefabcdef",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "rk_live_51H8abcdEFGHijkl", "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
    "4111111111111111", "4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005", "6011111111111117",
    "3530111333300000",
]


@pytest.mark.parametrize("text", ["card_4111111111111111", "PAN4111111111111111", "4111111111111111exp",
                                  "visa 4111-1111-1111-1111"])
def test_card_numbers_glued_to_words_are_redacted(text):
    assert "4111" not in redact_text(text) and REDACTED in redact_text(text)
    assert "4111" not in redact_json({"note": text})["note"]


@pytest.mark.parametrize("secret", SHAPED)
def test_credentials_are_recognised_by_shape_anywhere(secret):
    text = f"see {secret}, thanks"
    assert secret not in redact_text(text) and REDACTED in redact_text(text)
    assert redact_json({"note": text, "list": [secret], "v": secret}) == {
        "note": redact_text(text), "list": [REDACTED], "v": REDACTED}
    assert redact_query([("ref", secret)]) == [("ref", REDACTED)]
    assert redact_headers([("X-Note", secret)]) == [("X-Note", REDACTED)]


@pytest.mark.parametrize("harmless", [
    "4111111111111112",           # Luhn fails
    "1733400000000",              # a timestamp in ms (no card issuer starts with 1)
    "2024-05-01T12:00:00Z", "550e8400-e29b-41d4-a716-446655440000", "+1 415 555 2671", "12345678901234",
    "AKIA-not-a-key", "ghp_short", "the sky is high", "skeleton_key", "xox", "eyJ alone",
    "v1.2.3-4111111111111111",    # digits inside a longer token are not a card
    "adbcb155-a659-0755-9197-39c1dcf87d70",  # a UUID whose digit groups pass the Luhn check
])
def test_harmless_values_are_kept(harmless):
    assert redact_text(harmless) == harmless
    assert redact_json({"v": harmless}) == {"v": harmless}


def test_card_numbers_as_json_numbers():
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert is_card_number(5555555555554444) and not is_card_number(5555555555554445)
    assert not is_card_number(1733400000000) and not is_card_number(42)
    doc = {"card": 4111111111111111, "ids": [4111111111111111, 7], "ts": 1733400000000, "n": 12}
    assert redact_json(doc) == {"card": REDACTED, "ids": [REDACTED, 7], "ts": 1733400000000, "n": 12}


@pytest.mark.parametrize("name", ["aws_access_key_id", "AWS_SECRET_ACCESS_KEY", "secret_access_key", "api_key",
                                  "client_secret", "private_key", "accessKeyId"])
def test_credential_names(name):
    assert is_sensitive_name(name)
    assert redact_json({name: "plain-looking-value"}) == {name: REDACTED}


def test_path_segments_holding_credentials():
    assert redact_path(f"/sessions/{JWT}") == f"/sessions/{REDACTED}"
    assert redact_path("/keys/AKIAIOSFODNN7EXAMPLE/usage?x=1") == f"/keys/{REDACTED}/usage?x=1"
    assert redact_path("/cards/4111%201111%201111%201111") == f"/cards/{REDACTED}"
    plain = "/users/1733400000000/orders/550e8400-e29b-41d4-a716-446655440000"
    assert redact_path(plain) is plain


def test_a_container_under_a_secret_name_keeps_its_shape_not_its_values():
    body = {"client_secret": {"value": "ek_abc", "expires_at": 1_760_000_000, "live": True, "scopes": ["a1", 7]},
            "authorization": [{"kind": "basic", "v": 1.5, "state": "NOT_GUARANTEED", "k": "qzXkvJwPaaLmnRtY"}]}
    assert redact_json(body) == {
        "client_secret": {"value": REDACTED, "expires_at": 0, "live": True, "scopes": [REDACTED, 0]},
        "authorization": [{"kind": "basic", "v": 0.0, "state": "NOT_GUARANTEED", "k": REDACTED}],
    }
    assert redact_json({"secret": {"v": "abcdefghijklmnopqrstuvwxyzabcdef"}}) == {"secret": {"v": REDACTED}}
    assert redact_json({"auth": {"at": "2024-05-01T10:00:00Z", "on": "2024-05-01"}}) == \
        {"auth": {"at": "2024-05-01T10:00:00Z", "on": "2024-05-01"}}
    # a plain word may be a password: kept only under a key that describes the secret
    assert redact_json({"password": {"value": "hunter", "words": ["correcthorse"], "type": "basic"}}) == \
        {"password": {"value": REDACTED, "words": [REDACTED], "type": "basic"}}


def test_secret_fields_inside_json_strings_are_masked():
    """A URL, form or query string held in a JSON string (`"next": "...?access_token=..."`, an echoed form)."""
    out = redact_json({"next": "https://api.example.com/items?page=2&access_token=abc123def456",
                       "echo": "user=alice&password=hunter2hunter2&remember=1"})
    assert out == {"next": f"https://api.example.com/items?page=2&access_token={REDACTED}",
                   "echo": f"user=alice&password={REDACTED}&remember=1"}
    assert redact_headers([("Location", "/cb?code=xyz&state=1&token=t0k3n")]) == [
        ("Location", f"/cb?code={REDACTED}&state=1&token={REDACTED}")]
    assert redact_json({"v": "padding==", "w": "a=1&b=2&max_tokens=100"}) == {
        "v": "padding==", "w": "a=1&b=2&max_tokens=100"}


def test_aws_secret_key_beside_its_access_key_id():
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    text = f"key AKIAIOSFODNN7EXAMPLE and secret {secret}"
    assert secret not in redact_json({"note": text})["note"]
    assert redact_json({"note": f"sha {secret}"}) == {"note": f"sha {secret}"}  # no key id: nothing to pair


def test_what_is_said_about_a_secret_is_kept_and_the_secret_is_not():
    """Dates and plain words under a describing name keep their format and values (the schema and the
    mocks need `"token_type": "bearer"` and a date-time); the secrets beside them go."""
    body = {"access_token": "ya29.a0AfH6SM", "token_type": "bearer", "refresh_token": "1//0g",
            "token_expiration_time": "2026-12-07T20:00:00Z", "password_changed_at": "2026-01-02",
            "api_key_status": "active", "signature_method": "HMAC-SHA1",  # (not plain words: redacted)
            "session_state": "a1b2c3d4", "token_kind": "k9XyZ0q", "password": "2026-01-02",
            "secret_type": "s3cr3t-value", "secret_answer": "1990-05-12", "password_kind": "hunter two"}
    assert redact_json(body) == {
        "access_token": REDACTED, "token_type": "bearer", "refresh_token": REDACTED,
        "token_expiration_time": "2026-12-07T20:00:00Z", "password_changed_at": "2026-01-02",
        "api_key_status": "active", "signature_method": REDACTED, "session_state": REDACTED,
        "token_kind": REDACTED, "password": REDACTED, "secret_type": REDACTED, "secret_answer": REDACTED,
        "password_kind": REDACTED}
    assert redact_query([("token_type", "bearer"), ("token_created_at", "2026-01-02"), ("token", "bearer")]) == [
        ("token_type", "bearer"), ("token_created_at", "2026-01-02"), ("token", REDACTED)]
    assert redact_text("token_type: bearer, session_token: abcdefghij") == \
        f"token_type: bearer, session_token: {REDACTED}"


def test_the_password_of_a_url_goes_its_user_stays():
    assert redact_json({"url": "https://ada:pa55word@host.example/x", "mail": "mailto:ada@example.com"}) == {
        "url": f"https://ada:{REDACTED}@host.example/x", "mail": "mailto:ada@example.com"}
    assert redact_text("postgresql://mimic:s3cret@db:5432/test, redis://:pw@cache:6379/0, ftp://anon@host/") == \
        f"postgresql://mimic:{REDACTED}@db:5432/test, redis://:{REDACTED}@cache:6379/0, ftp://anon@host/"
    # a port beside an e-mail in compact JSON is no password; a password holding `@` goes whole
    assert redact_text('{"url":"https://api.x.com:8443","owner":"bob@x.com"}') == \
        '{"url":"https://api.x.com:8443","owner":"bob@x.com"}'
    assert redact_text("postgres://user:p@ss@db/app") == f"postgres://user:{REDACTED}@db/app"


def test_a_key_or_code_in_a_query_string_goes_wherever_the_url_is():
    # in a query string itself these names are credentials (`redact_query`); so in a URL in a header or a body
    assert redact_headers([("Location", "https://app.example/cb?code=SplxlOBeZQQ&state=xyz"),
                           ("Referer", "https://app.example/p?q=1&Key=abcdef123456")]) == [
        ("Location", f"https://app.example/cb?code={REDACTED}&state=xyz"),
        ("Referer", f"https://app.example/p?q=1&Key={REDACTED}")]
    assert redact_json({"next": "https://api.example/items?key=abcdef123456&page=2"}) == {
        "next": f"https://api.example/items?key={REDACTED}&page=2"}
    # other names holding the words, and the words outside a query, stay
    kept = "/x?zipcode=75001&monkey=1&barcode=12 and key=value code=E42"
    assert redact_text(kept) == kept
    assert redact_text(f"go to /cb?code={REDACTED}") == f"go to /cb?code={REDACTED}"


def test_mimics_session_header_names_a_scope_and_stays():
    assert redact_headers([("X-Mimic-Session", "alice"), ("X-Session-Id", "abc123")]) == [
        ("X-Mimic-Session", "alice"), ("X-Session-Id", REDACTED)]


def test_a_key_in_an_html_link_goes_too():
    assert redact_text('<a href="/x?a=1&amp;key=SECRETSECRET123">') == f'<a href="/x?a=1&amp;key={REDACTED}">'


def test_more_published_key_shapes_and_webhook_urls_go():
    openai = "sk-proj-" + "Ab1" * 20
    legacy = "sk-" + "aB3" * 16
    anthropic = "sk-ant-api03-" + "Zx9_" * 20
    gitlab, npm = "glpat-" + "xY3z" * 5, "npm_" + "a1B2" * 9
    slack_hook = "https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF1/abcdefghijklmnopqrstuvwx"
    discord_hook = "https://discord.com/api/webhooks/123456789012345678/" + "x" * 68
    text = f"{openai} {legacy} {anthropic} {gitlab} {npm} {slack_hook} {discord_hook}"
    assert redact_text(text) == (f"{REDACTED} {REDACTED} {REDACTED} {REDACTED} {REDACTED} "
                                 f"https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF1/{REDACTED} "
                                 f"https://discord.com/api/webhooks/123456789012345678/{REDACTED}")
    # a request posting to a webhook through the proxy: its own path holds the secret
    assert redact_path("/services/T0ABCDEF1/B0ABCDEF1/abcdefghijklmnopqrstuvwx") == \
        f"/services/T0ABCDEF1/B0ABCDEF1/{REDACTED}"
    assert redact_path("/api/v10/webhooks/123456789012345678/" + "x" * 68) == \
        f"/api/v10/webhooks/123456789012345678/{REDACTED}"
    # words that only look alike stay: slugs (no digit, no capital), words ending in sk-, gl...-
    kept = ("sk-learn-tutorial-for-beginners-2024 task-" + "1" * 40 + " global-settings-are-here-for-all-of-us"
            " sk-admin-panel-user-management-page glpat-documentation-for-users /services/billing/plans")
    assert redact_text(kept) == kept


def test_a_basic_credential_goes_where_it_decodes_to_a_user_and_password():
    assert redact_json({"note": "Basic dXNlcjpwYXNzd29yZA=="}) == {"note": f"Basic {REDACTED}"}
    assert redact_text("(Basic\tdXNlcjpwYXNzd29yZA==).") == f"(Basic {REDACTED})."
    assert redact_text("basic information about plans") == "basic information about plans"
    assert redact_text("Basic aGVsbG93b3JsZA==") == "Basic aGVsbG93b3JsZA=="  # (no `:` in it: no credential)


def test_a_jwt_parameter_is_a_secret_whatever_it_holds():
    assert redact_query([("jwt", "opaqueSESSIONjwt123")]) == [("jwt", REDACTED)]
    assert redact_json({"jwt": "opaque"}) == {"jwt": REDACTED}
