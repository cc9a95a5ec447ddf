"""Modes, switches and mock answers inside mitmproxy's test harness, sharing the learner's Brain."""
from __future__ import annotations

import json

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons

from flowkit import make_flow as flow

from mimic_addon.addon import Mimic
from mimic_addon.learn.observation import from_flow
from mimic_addon.serve.serve_addon import ServeAddon, parse_failover_on
from mimic_addon.store import Store


def pair() -> tuple[Mimic, ServeAddon]:
    m = Mimic()
    return m, ServeAddon(brain=lambda: m.brain, store=lambda: m.store)


def teach(m: Mimic) -> None:
    for i in range(1, 30):
        m.brain.learn(from_flow(flow(f"/users/{i}", status=200,
                                     resp_body=json.dumps({"id": i, "name": f"U{i}", "ok": True}).encode()), 1 << 20))


async def test_mock_answers_from_the_model_and_is_not_learned(db):
    m, s = pair()
    with taddons.context(m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        teach(m)
        observed = m.brain.observed
        f = flow("/users/42")
        await s.request(f)
        assert f.response.status_code == 200 and f.response.headers["X-Mimic-Source"] == "mock"
        assert json.loads(f.response.content)["id"] == 42 and f.metadata["mimic_source"] == "mock"
        m.response(f)
        m.learner.stop()
        assert m.brain.observed == observed  # answers from the model are never learned
        unknown = flow("/orders/1")
        await s.request(unknown)
        body = json.loads(unknown.response.content)
        assert unknown.response.status_code == 404 and body["closest"] == ["GET /users/{user_id}"]


async def test_header_switches_and_endpoint_modes(db):
    m, s = pair()
    with taddons.context(m, s) as tctx:
        tctx.configure(m, mimic_db=db)
        teach(m)
        f = flow("/users/3", X_Mimic_Mode="mock")
        await s.request(f)
        assert f.response.headers["X-Mimic-Source"] == "mock" and "X-Mimic-Mode" not in f.request.headers
        f = flow("/users/3", X_Mock_Enabled="true")
        await s.request(f)
        assert f.response.headers["X-Mimic-Source"] == "mock"
        f = flow("/users/3")
        await s.request(f)
        assert f.response is None and f.metadata["mimic_mode"] == "learn"
        f = flow("/users/3", X_Mimic_Mode="nope")
        await s.request(f)
        assert f.response.status_code == 400
        s.set_endpoint_mode("GET", "/users/{user_id}", "mock")
        f = flow("/users/3")
        await s.request(f)
        assert f.response.headers["X-Mimic-Source"] == "mock"
        assert Store(db).get_setting("serve.endpoint_modes") == {"GET /users/{user_id}": "mock"}
        assert "GET /users/{user_id}: mock" in s.show_modes()
        s.set_mode("passthrough")
        assert tctx.options.mimic_mode == "passthrough"
        with pytest.raises(exceptions.CommandError):
            s.set_mode("rewind")


async def test_realistic_and_upstream_header(db):
    m, s = pair()
    with taddons.context(m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock", mimic_realism="realistic")
        teach(m)
        f = flow("/users/1")
        await s.request(f)
        assert f.response.status_code == 200
        up = flow("/users/1", status=200, resp_body=b"{}")
        s.response(up)
        assert up.response.headers["X-Mimic-Source"] == "upstream"


async def test_realistic_draws_each_call_anew_and_the_same_calls_alike(db):
    """One call in three failed: the same request made again fails or not as sampled (a retry may
    succeed), and the same calls in the same order get the same answers."""
    async def statuses() -> list[int]:
        m, s = pair()
        with taddons.context(m, s) as tctx:
            tctx.configure(m, mimic_db=db, mimic_mode="mock", mimic_realism="realistic", mimic_seed=5)
            for i in range(1, 31):
                learned = flow("/flaky", status=500 if i % 3 == 0 else 200,
                               resp_body=b'{"ok": false}' if i % 3 == 0 else b'{"ok": true, "n": %d}' % (i * 7))
                learned.request.timestamp_start = learned.request.timestamp_end = 100.0
                learned.response.timestamp_start = learned.response.timestamp_end = 100.001  # (1 ms: not waited)
                m.brain.learn(from_flow(learned, 1 << 20))
            out, bodies = [], set()
            for _ in range(60):
                f = flow("/flaky")
                await s.request(f)
                out.append(f.response.status_code)
                if f.response.status_code == 200:
                    bodies.add(f.response.content)
            assert len(bodies) == 1  # (the status is drawn per call, the body of a status is the request's)
            return out

    first = await statuses()
    assert set(first) == {200, 500} and 8 <= first.count(500) <= 32
    assert await statuses() == first


def test_options_are_validated(db):
    m, s = pair()
    with taddons.context(m, s) as tctx:
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(s, mimic_failover_on="5xx,sometimes")
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(s, mimic_failover_timeout="-1")
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(s, mimic_realism="gritty")
    assert parse_failover_on("5xx, timeout") == {"5xx", "timeout"}


async def test_a_method_never_learned_on_a_known_path_is_405_with_allow(db):
    m, s = pair()
    with taddons.context(m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        teach(m)
        for method in ("DELETE", "TRACE", "PUT"):
            f = flow("/users/7", method)
            await s.request(f)
            assert f.response.status_code == 405 and f.response.headers["Allow"] == "GET, HEAD, OPTIONS"
            assert json.loads(f.response.content)["allow"] == ["GET", "HEAD", "OPTIONS"]
        f = flow("/users/7", "OPTIONS")
        await s.request(f)
        assert (f.response.status_code, f.response.headers["Allow"], f.response.content) == (204, "GET, HEAD, OPTIONS", b"")
        assert "Access-Control-Allow-Origin" not in f.response.headers
        f = flow("/users/7", "OPTIONS", Origin="http://app.test", Access_Control_Request_Method="DELETE",
                 Access_Control_Request_Headers="content-type")
        await s.request(f)
        h = f.response.headers
        assert f.response.status_code == 204 and h["Access-Control-Allow-Origin"] == "http://app.test"
        # (DELETE, never learned, passes the preflight: the page then reads the 405 that says so)
        assert h["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS, DELETE"
        assert h["Access-Control-Allow-Headers"] == "content-type" and h["Allow"] == "GET, HEAD, OPTIONS"
        f = flow("/users/7", "HEAD")  # answered as the learned GET, without its body
        await s.request(f)
        assert (f.response.status_code, f.response.content) == (200, b"")
        assert f.response.headers["Content-Type"] == "application/json"
        assert f.response.headers["X-Mimic-Template"] == "GET /users/{user_id}"
        got = flow("/users/7", "GET")
        await s.request(got)
        assert f.response.headers["Content-Length"] == str(len(got.response.content)) != "0"
        f = flow("/orders/1", "DELETE")  # a path never learned stays a 404
        await s.request(f)
        assert f.response.status_code == 404


async def test_suggestions_of_several_hosts_name_their_host(db):
    m, s = pair()
    with taddons.context(m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        for host in ("a.test", "b.test"):
            for i in range(1, 30):
                f = flow(f"/users/{i}", status=200, resp_body=json.dumps({"id": i, "name": f"U{i}"}).encode())
                f.request.host, f.request.port = host, 443
                m.brain.learn(from_flow(f, 1 << 20))
        f = flow("/users/1/orders")
        f.request.host = "c.test"  # neither: no host is picked, both are suggested
        await s.request(f)
        body = json.loads(f.response.content)
        assert f.response.status_code == 404
        assert body["closest"] == ["GET http://a.test:443/users/{user_id}", "GET http://b.test:443/users/{user_id}"]


async def test_the_path_value_goes_only_into_the_field_it_names(db):
    m, s = pair()
    with taddons.context(m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        for name in ("alice", "bobby", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"):
            body = {"id": f"acc_{name[::-1]}x", "login": name, "plan": "free"}
            m.brain.learn(from_flow(flow(f"/accounts/{name}", status=200, resp_body=json.dumps(body).encode()), 1 << 20))
        m.brain.settle()
        f = flow("/accounts/zed")
        await s.request(f)
        body = json.loads(f.response.content)
        assert f.response.headers["X-Mimic-Template"] == "GET /accounts/{login}"
        assert body["login"] == "zed" and body["id"] != "zed"


async def test_the_template_header_of_a_very_long_path_is_capped(db):
    """A 60 KB learned path made X-Mimic-Template a header line HTTP clients refuse (issue 16)."""
    m, s = pair()
    path = "/q/" + "/".join(["seg"] * 15_000)
    with taddons.context(m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        m.brain.learn(from_flow(flow(path, status=200, resp_body=b'{"ok": true}'), 1 << 20))
        f = flow(path)
        await s.request(f)
    assert f.response.status_code == 200
    template = f.response.headers["X-Mimic-Template"]
    assert len(template) <= 1024 and template.startswith("GET /q/seg/seg/") and template.endswith("...")


PET_SPEC = {
    "openapi": "3.0.3", "info": {"title": "pets", "version": "1"}, "servers": [{"url": "http://address:22"}],
    "paths": {"/pets": {"post": {
        "requestBody": {"content": {"application/json": {"schema": {
            "type": "object", "required": ["name", "status"], "properties": {
                "name": {"type": "string", "maxLength": 20},
                "status": {"type": "string", "enum": ["available", "sold"]},
                "tags": {"type": "array", "items": {"type": "string"}}}}}}},
        "responses": {"201": {"description": "made", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}}}}}}}},
}


async def test_mock_refuses_a_body_the_imported_spec_refuses(db):
    """Like Prism: a body breaking the spec's request schema is 422 with what is wrong (never the value
    sent), broken JSON 400; a good body is answered; `mimic_mock_validate=off` answers everything."""
    from mimic_addon.imports.openapi_import import apply_plan, plan_import
    m, s = pair()
    with taddons.context(m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        apply_plan(m.brain, plan_import(PET_SPEC))

        async def post(body: bytes, ctype: str = "application/json"):
            f = flow("/pets", "POST", body, content_type=ctype)
            await s.request(f)
            return f.response.status_code, json.loads(f.response.content)

        status, answer = await post(b'{"name": "Rex", "status": "sold", "tags": ["a"]}')
        assert status == 201 and answer["name"] == "Rex"
        status, answer = await post(b'{"name": "hunter2hunter2hunter2hunter2", "status": "lost", "tags": [1]}')
        assert status == 422 and answer["error"] == "the request body does not match the imported spec"
        assert [(p["path"], p["rule"]) for p in answer["problems"]] == [
            ("$.name", "maxLength"), ("$.status", "enum"), ("$.tags[0]", "type")]
        assert answer["problems"][1]["message"] == "must be one of 'available', 'sold'"
        assert "hunter2" not in json.dumps(answer) and "lost" not in json.dumps(answer)
        status, answer = await post(b'{"tags": []}')
        assert status == 422 and answer["problems"] == [
            {"path": "$", "rule": "required", "message": "missing required fields: name, status"}]
        status, answer = await post(b'{"name": "Rex", ')
        assert status == 400 and answer["error"] == "the request body is not valid JSON"
        assert (await post(b""))[0] == 201  # no body: not judged
        tctx.configure(s, mimic_mock_validate="off")
        assert (await post(b'{"tags": []}'))[0] == 201
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(s, mimic_mock_validate="strict")


async def test_learned_request_schemas_are_checked_only_when_asked(db):
    m, s = pair()
    with taddons.context(m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        for i in range(6):
            body = json.dumps({"title": f"t{i}", "done": i % 2 == 0, "note": "x" * i}).encode()
            m.brain.learn(from_flow(flow("/todos", "POST", body, status=201, content_type="application/json",
                                         resp_body=json.dumps({"id": i, "title": f"t{i}"}).encode()), 1 << 20))
        bad = b'{"title": 7, "done": true}'
        f = flow("/todos", "POST", bad, content_type="application/json")
        await s.request(f)
        assert f.response.status_code == 201  # the default checks imported specs only
        tctx.configure(s, mimic_mock_validate="learned")
        f = flow("/todos", "POST", bad, content_type="application/json")
        await s.request(f)
        answer = json.loads(f.response.content)
        assert f.response.status_code == 422 and answer["error"] == "the request body does not match the learned request schema"
        assert [(p["path"], p["rule"]) for p in answer["problems"]] == [("$", "required"), ("$.title", "type")]
        # lengths seen are samples, not a contract: a longer note and a new title pass
        f = flow("/todos", "POST", json.dumps({"title": "new", "done": False, "note": "y" * 500}).encode(),
                 content_type="application/json")
        await s.request(f)
        assert f.response.status_code == 201


async def test_an_endpoint_mode_of_one_host_leaves_the_same_template_on_another_alone(db):
    """`GET /users/{user_id}` on two hosts: a mode keyed with a host (as the admin app sets it) holds
    for that host only, and wins there over one keyed for every host (as the command is usually given)."""
    def on(host: str, path: str, **kw):
        f = flow(path, **kw)
        f.request.host, f.request.port = host, 8001
        return f

    m, s = pair()
    with taddons.context(m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="learn")
        for host in ("a.test", "b.test"):
            for i in range(1, 12):
                m.brain.learn(from_flow(on(host, f"/users/{i}", status=200,
                                           resp_body=json.dumps({"id": i}).encode()), 1 << 20))
        [a_name] = [h for h in m.brain.hosts if h.startswith("a.test")]
        s.set_endpoint_mode("GET", f"{a_name}/users/{{user_id}}", "mock")

        async def source(host: str) -> str:
            f = on(host, "/users/5")
            await s.request(f)
            return f.response.headers["X-Mimic-Source"] if f.response else "upstream"

        assert await source("a.test") == "mock" and await source("b.test") == "upstream"
        s.set_endpoint_mode("GET", "/users/{user_id}", "mock")  # every host's ...
        s.set_endpoint_mode("GET", f"{a_name}/users/{{user_id}}", "passthrough")  # ... but a.test's own wins there
        assert await source("a.test") == "upstream" and await source("b.test") == "mock"
        assert s.endpoint_modes == {f"GET {a_name}/users/{{user_id}}": "passthrough", "GET /users/{user_id}": "mock"}


async def test_declared_formats_and_closed_objects_are_checked_too(db):
    from mimic_addon.imports.openapi_import import apply_plan, plan_import
    spec = json.loads(json.dumps(PET_SPEC))
    body = spec["paths"]["/pets"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    body["additionalProperties"] = False
    body["properties"]["vet"] = {"type": "string", "format": "email"}
    m, s = pair()
    with taddons.context(m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        apply_plan(m.brain, plan_import(spec))
        f = flow("/pets", "POST", b'{"name": "Rex", "status": "sold", "vet": "nope", "nick": "zz"}',
                 content_type="application/json")
        await s.request(f)
        answer = json.loads(f.response.content)
        assert f.response.status_code == 422, answer
        assert {(p["path"], p["rule"]) for p in answer["problems"]} == {("$", "additionalProperties"), ("$.vet", "format")}
        assert answer["problems"][0]["message"] == "unknown field: nick"
        f = flow("/pets", "POST", b'{"name": "Rex", "status": "sold", "vet": "v@x.io"}', content_type="application/json")
        await s.request(f)
        assert f.response.status_code == 201


async def test_what_traffic_adds_to_an_imported_endpoint_is_no_contract(db):
    """An imported endpoint that then learns traffic (spec+traffic): a field only traffic showed, always an
    e-mail in six samples, is no declared format: another value passes; the declared rules still hold."""
    from mimic_addon.imports.openapi_import import apply_plan, plan_import
    m, s = pair()
    with taddons.context(m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        apply_plan(m.brain, plan_import(PET_SPEC))
        for i in range(6):
            body = json.dumps({"name": f"Rex{i}", "status": "sold", "note": f"vet{i}@example.com"}).encode()
            m.brain.learn(from_flow(flow("/pets", "POST", body, status=201, content_type="application/json",
                                         resp_body=json.dumps({"id": i, "name": f"Rex{i}"}).encode()), 1 << 20))
        f = flow("/pets", "POST", b'{"name": "Rex", "status": "sold", "note": "hello"}', content_type="application/json")
        await s.request(f)
        assert f.response.status_code == 201, f.response.content
        f = flow("/pets", "POST", b'{"name": "Rex", "status": "lost"}', content_type="application/json")
        await s.request(f)
        assert f.response.status_code == 422


async def test_a_failover_that_cannot_answer_says_what_the_backend_did(db, monkeypatch):
    """A backend that cut its answer short was told as "unreachable"; the message now says what happened
    and why no answer was made up."""
    import httpx

    m, s = pair()
    with taddons.context(m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="failover")
        teach(m)
        errors = {"cut": httpx.RemoteProtocolError("peer closed connection"), "down": httpx.ConnectError("refused")}

        async def failing(req):
            raise errors[req.path.rsplit("/", 1)[-1]]

        monkeypatch.setattr(s, "_forward", failing)

        async def said(path: str, method: str = "GET") -> tuple[int, str]:
            f = flow(path, method)
            await s.request(f)
            return f.response.status_code, json.loads(f.response.content)["error"]

        assert await said("/orders/cut") == (
            502, "the backend dropped the connection before its answer was whole, and Mimic has learned no answer "
                 "of this endpoint")
        assert await said("/orders/down") == (
            502, "the backend could not be reached, and Mimic has learned no answer of this endpoint")
        assert await said("/users/down", "POST") == (  # (never sent: it could be made up, were POST learned)
            502, "the backend could not be reached, and Mimic has learned no answer of this endpoint")
        m.brain.learn(from_flow(flow("/users/1", "POST", status=201, resp_body=b'{"id": 1}'), 1 << 20))
        status, why = await said("/users/cut", "POST")
        assert status == 502 and why.startswith("the backend dropped the connection before its answer was whole "
                                                 "after it got this POST: a POST is not failed over")
        m.learner.stop()


async def test_a_browser_app_on_another_origin_can_read_mock_answers(db):
    """Only the preflight carried CORS headers: a single-page app's fetch of the answer itself was blocked."""
    m, s = pair()
    with taddons.context(m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        teach(m)
        origin = "http://localhost:3000"

        async def ask(path: str, method: str = "GET", **headers: str):
            f = flow(path, method, Origin=origin, **headers)
            await s.request(f)
            s.response(f)
            return f.response

        got = await ask("/users/7")
        assert got.status_code == 200 and got.headers["Access-Control-Allow-Origin"] == origin
        assert got.headers["Access-Control-Allow-Credentials"] == "true" and got.headers["Vary"] == "Origin"
        assert "X-Mimic-Source" in got.headers["Access-Control-Expose-Headers"].split(", ")
        missing = await ask("/orders/1")  # the app can read the 404 too
        assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == origin
        pre = await ask("/orders/1", "OPTIONS", Access_Control_Request_Method="DELETE")  # never learned: let through
        assert pre.status_code == 204 and "DELETE" in pre.headers["Access-Control-Allow-Methods"]
        pre = await ask("/users/7", "OPTIONS", Access_Control_Request_Method="DELETE")  # learned, without DELETE:
        assert pre.status_code == 204 and "DELETE" in pre.headers["Access-Control-Allow-Methods"]  # (the 405 is read)
        m.brain.learn(from_flow(flow("/users/7", "OPTIONS", status=204), 1 << 20))  # a preflight learned as traffic
        pre = await ask("/users/7", "OPTIONS", Access_Control_Request_Method="PUT")
        assert pre.status_code == 204 and "PUT" in pre.headers["Access-Control-Allow-Methods"]
        plain = flow("/users/7")  # no Origin: no CORS headers
        await s.request(plain)
        s.response(plain)
        assert "Access-Control-Allow-Origin" not in plain.response.headers
        m.learner.stop()


async def test_the_spec_checks_its_own_schema_not_a_summary_of_it(db):
    """The check ran against a schema rebuilt from the model's summary: a `pattern` went unchecked, a
    `minLength` of its own was made up from it, and OpenAPI 3.0's boolean `exclusiveMinimum` became
    `minimum: 0.01`. Now the declared schema itself (`$ref`s inlined, 3.0 keywords in 2020-12 terms)."""
    from mimic_addon.imports.openapi_import import apply_plan, plan_import
    spec = {
        "openapi": "3.0.3", "info": {"title": "shop", "version": "1"}, "servers": [{"url": "http://address:22"}],
        "components": {"schemas": {"Product": {"type": "object", "required": ["sku", "price"], "properties": {
            "id": {"type": "string", "readOnly": True},
            "sku": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{5}$"},
            "price": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
            "note": {"type": "string", "nullable": True}}}}},
        "paths": {"/products": {"post": {
            "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Product"}}}},
            "responses": {"201": {"description": "made", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Product"}}}}}}}},
    }
    m, s = pair()
    with taddons.context(m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        apply_plan(m.brain, plan_import(spec))

        async def post(body: dict) -> tuple[int, list]:
            f = flow("/products", "POST", json.dumps(body).encode(), content_type="application/json")
            await s.request(f)
            answer = json.loads(f.response.content)
            return f.response.status_code, [(p["path"], p["rule"]) for p in answer.get("problems", [])]

        assert await post({"sku": "AB-12345", "price": 0.005, "note": None}) == (201, [])
        assert await post({"sku": "abcdefgh", "price": 0}) == (422, [("$.price", "exclusiveMinimum"),
                                                                      ("$.sku", "pattern")])
        assert await post({"sku": "AB-12345", "price": 1, "id": "mine"}) == (201, [])  # (readOnly: not the client's)
        m.learner.stop()


async def test_an_imported_operation_answering_only_204_answers_204(db):
    from mimic_addon.imports.openapi_import import apply_plan, plan_import
    spec = json.loads(json.dumps(PET_SPEC))
    spec["paths"]["/pets/{petId}"] = {"delete": {"parameters": [{"name": "petId", "in": "path", "required": True,
                                                                  "schema": {"type": "integer"}}],
                                                 "responses": {"204": {"description": "gone"},
                                                               "404": {"description": "none"}}}}
    m, s = pair()
    with taddons.context(m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        apply_plan(m.brain, plan_import(spec))
        f = flow("/pets/3", "DELETE")
        await s.request(f)
        assert f.response.status_code == 204 and f.response.content == b""
        m.learner.stop()


async def test_broken_json_is_a_400_for_a_learned_endpoint_too(db):
    """`POST /users -d '{"name":'` created a twin item with 201 unless `mimic_mock_validate=learned`."""
    m, s = pair()
    with taddons.context(m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        for i in range(3):
            m.brain.learn(from_flow(flow("/users", "POST", json.dumps({"name": f"U{i}"}).encode(), status=201,
                                         content_type="application/json",
                                         resp_body=json.dumps({"id": i, "name": f"U{i}"}).encode()), 1 << 20))
        f = flow("/users", "POST", b'{"name":', content_type="application/json")
        await s.request(f)
        assert f.response.status_code == 400 and "not valid JSON" in json.loads(f.response.content)["error"]
        assert f.response.headers["X-Mimic-Template"] == "POST /users"
        f = flow("/users", "POST", b'{"name": "ok"}', content_type="application/json")  # (no schema check in `spec`)
        await s.request(f)
        assert f.response.status_code == 201
        m.learner.stop()
