"""Overrides and stateful twins inside mitmproxy's test harness, on ServeAddon's mock answers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons

from flowkit import make_flow as flow

from mimic_addon.addon import Mimic
from mimic_addon.learn.observation import from_flow
from mimic_addon.serve.serve_addon import ServeAddon
from mimic_addon.serve.twins_addon import ServeExtras



def trio() -> tuple[Mimic, ServeAddon, ServeExtras]:
    m = Mimic()
    brain, store = (lambda: m.brain), (lambda: m.store)
    s, x = ServeAddon(brain=brain, store=store), ServeExtras(brain=brain, store=store)
    s.extras = x
    return m, s, x


def teach(m: Mimic) -> None:
    def learn(f):
        m.brain.learn(from_flow(f, 1 << 20))
    for i in range(1, 30):
        item = {"id": i, "name": f"N{i}", "done": False}
        learn(flow(f"/items/{i}", status=200, resp_body=json.dumps(item).encode()))
        learn(flow(f"/items/{i}", "PUT", json.dumps(item).encode(), status=200, resp_body=json.dumps(item).encode(),
                   content_type="application/json"))
        learn(flow(f"/items/{i}", "DELETE", status=204))
        learn(flow("/items", "POST", json.dumps({"name": f"N{i}"}).encode(), status=201,
                   resp_body=json.dumps(item).encode(), content_type="application/json"))
    for p in range(1, 4):
        learn(flow(f"/items?page={p}", status=200, resp_body=json.dumps(
            {"data": [{"id": i, "name": f"N{i}", "done": True} for i in range(p, p + 3)], "total": 29}).encode()))


async def call(s: ServeAddon, path: str, method: str = "GET", body=None, **headers):
    f = flow(path, method, json.dumps(body).encode() if body is not None else b"",
             **({"content_type": "application/json"} if body is not None else {}), **headers)
    await s.request(f)
    content = f.response.content
    return f.response.status_code, (json.loads(content) if content else None), f.response.headers


async def test_crud_twin_in_mock_mode_survives_a_restart(db):
    m, s, x = trio()
    with taddons.context(x, m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        teach(m)
        st, created, h = await call(s, "/items", "POST", {"name": "Ada"}, X_Mimic_Session="one")
        assert st == 201 and created["name"] == "Ada" and created["id"] == 30 and h["X-Mimic-Twin"] == "create"
        assert h["X-Mimic-Source"] == "mock" and h["Location"] == "/items/30"  # where the new item is
        st, told, h = await call(s, "/items", "POST", {"id": 30, "name": "Again"}, X_Mimic_Session="one")
        assert (st, told["id"], h["X-Mimic-Twin"]) == (409, 30, "conflict") and "Location" not in h
        # a trailing slash never learned is the collection, not an item with an empty id
        st, other, h = await call(s, "/items/", "POST", {"name": "Slash"}, X_Mimic_Session="two")
        assert (st, h["X-Mimic-Template"], h["Location"]) == (201, "POST /items", f"/items/{other['id']}")
        assert (await call(s, "/items/30", X_Mimic_Session="one"))[1] == created
        assert (await call(s, "/items/30", X_Mimic_Session="two"))[1]["name"] != "Ada"  # other session
        st, upd, _ = await call(s, "/items/30", "PUT", {"name": "Bo", "done": True}, X_Mimic_Session="one")
        assert st == 200 and upd == {"name": "Bo", "done": True, "id": 30}
        st, listing, _ = await call(s, "/items", X_Mimic_Session="one")
        assert listing["data"][0] == upd and listing["total"] >= len(listing["data"])
        head = flow("/items/30", "HEAD", X_Mimic_Session="one")  # HEAD: the twin's GET, without its body
        await s.request(head)
        assert head.response.headers["X-Mimic-Twin"] == "read" and head.response.content == b""
        assert head.response.headers["Content-Length"] == str(len(json.dumps(upd, separators=(",", ":"))))
        assert (await call(s, "/items/30", "DELETE", X_Mimic_Session="one"))[0] == 204
        assert (await call(s, "/items/30", X_Mimic_Session="one"))[0] == 404
        await call(s, "/items", "POST", {"name": "Cy"}, X_Mimic_Session="one")
        x.done()
        m.done()
    m2, s2, x2 = trio()
    with taddons.context(x2, m2, s2) as tctx:
        tctx.configure(m2, mimic_db=db, mimic_mode="mock")
        st, item, _ = await call(s2, "/items/31", X_Mimic_Session="one")
        assert item["name"] == "Cy" and (await call(s2, "/items/30", X_Mimic_Session="one"))[0] == 404
        assert x2.state_reset("session:one") == "reset 1 scope(s)"
        assert (await call(s2, "/items/31", X_Mimic_Session="one"))[1]["name"] != "Cy"
        m2.done()


async def test_overrides_pin_template_and_persist(db):
    m, s, x = trio()
    with taddons.context(x, m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        teach(m)
        x.override_set("GET", "/items/{item_id}", '{"template": "{\\"echo\\": \\"{{ request.params.item_id }}\\"}"}')
        x.override_set("POST", "/items", "body: {pinned: true}\nstatus: 202")
        st, body, h = await call(s, "/items/77")
        assert (st, body, h["X-Mimic-Override"], h["X-Mimic-Source"]) == (200, {"echo": "77"}, "GET /items/{item_id}", "mock")
        assert (await call(s, "/items", "POST", {"a": 1}))[:2] == (202, {"pinned": True})
        with pytest.raises(exceptions.CommandError):
            x.override_set("GET", "/items", "{template: '{% if %}'}")
        assert "POST /items" in x.override_list()
        x.override_clear("POST", "/items")
        with pytest.raises(exceptions.CommandError):
            x.override_clear("POST", "/items")
        m.done()
    m2, s2, x2 = trio()
    with taddons.context(x2, m2, s2) as tctx:
        tctx.configure(m2, mimic_db=db, mimic_mode="mock")
        assert x2.override_list().startswith("GET /items/{item_id}:")
        assert (await call(s2, "/items/5"))[1] == {"echo": "5"}
        m2.done()


async def test_variants_in_failover_answers(db):
    m, s, x = trio()
    with taddons.context(x, m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock", mimic_seed=7)
        teach(m)
        x.override_set("GET", "/items/{item_id}",
                       '[{"weight": 1, "status": 200, "body": {"v": "a"}}, {"weight": 1, "status": 503, "body": {"v": "b"}}]')
        seen = [(await call(s, f"/items/{i}"))[0] for i in range(40)]
        assert set(seen) == {200, 503}
        x.calls.clear()
        assert [(await call(s, f"/items/{i}"))[0] for i in range(40)] == seen  # deterministic with mimic_seed
        m.done()


def teach_users(m: Mimic) -> None:
    """A user collection addressed by username (`/user/{username}`) with integer ids, like a pet store."""
    def learn(f):
        m.brain.learn(from_flow(f, 1 << 20))
    for i, name in enumerate(["alice", "bobby", "carol", "dave7", "erin", "frank", "grace", "heidi", "ivan",
                              "judy", "mallory", "niaj", "olivia", "peggy", "rupert"], start=1):
        user = {"id": 100 + i, "username": name, "firstName": name.title(), "userStatus": 1}
        raw = json.dumps(user).encode()
        learn(flow("/user", "POST", raw, status=200, resp_body=raw, content_type="application/json"))
        learn(flow(f"/user/{name}", status=200, resp_body=raw))
        learn(flow(f"/user/{name}", "PUT", raw, status=200, resp_body=raw, content_type="application/json"))
        learn(flow(f"/user/{name}", "DELETE", status=200, resp_body=b""))
    m.brain.settle()


async def test_twin_items_are_keyed_by_the_field_the_path_echoes(db):
    m, s, x = trio()
    with taddons.context(x, m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        teach_users(m)
        st, created, h = await call(s, "/user", "POST", {"username": "pblake", "firstName": "P"})
        assert st == 200 and h["X-Mimic-Twin"] == "create" and created["username"] == "pblake"
        assert isinstance(created["id"], int)
        st, got, h = await call(s, "/user/pblake")
        assert (st, got, h["X-Mimic-Twin"]) == (200, created, "read")
        assert (await call(s, "/user/pblake", "DELETE"))[0] == 200
        assert (await call(s, "/user/pblake"))[0] == 404
        await call(s, "/user", "POST", {"username": "pblake", "firstName": "Again"})
        st, got, _ = await call(s, "/user/pblake")
        assert st == 200 and got["firstName"] == "Again"
        st, upd, _ = await call(s, "/user/theUser", "PUT", {"firstName": "Z"})
        # never `"id": "theUser"`; learned PUTs sent every field: a PUT replaces them all
        assert upd == {"firstName": "Z", "username": "theUser"}
        m.done()


async def test_secrets_clients_send_to_a_twin_are_not_stored(db):
    m, s, x = trio()
    with taddons.context(x, m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        teach(m)
        secret = "hunter2-correct-horse"
        st, created, _ = await call(s, "/items", "POST", {"name": "Ada", "password": secret}, X_Mimic_Session="one")
        assert st == 201 and created["password"] == secret  # served from memory as sent
        x.done()
        m.done()
    stored = b"".join(p.read_bytes() for p in Path(db).parent.glob(Path(db).name + "*"))  # with its WAL
    assert stored and secret.encode() not in stored


async def test_a_learned_error_body_gives_no_id_to_count_from(db):
    """A 404's `{"id": 999}` (a probe of an item that was not there) is no learned item: the first
    id made is the next above the largest id of a 2xx answer."""
    m, s, x = trio()
    with taddons.context(x, m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        teach(m)
        m.brain.learn(from_flow(flow("/items/999", status=404, resp_body=b'{"error": "not found", "id": 999}'),
                                1 << 20))
        st, created, _ = await call(s, "/items", "POST", {"name": "Ada"})
        assert st == 201 and created["id"] == 30


async def test_a_listed_item_reads_as_the_listing_said(db):
    """List, then open an item (a frontend's list and detail pages): the fields both show agree, with no
    twin state at all (the model's answers), and for an item this scope changed (the twin's)."""
    m, s, x = trio()
    with taddons.context(x, m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        teach(m)
        _, listing, _ = await call(s, "/items?page=2")
        assert len(listing["data"]) >= 2
        for item in listing["data"]:
            _, read, _ = await call(s, f"/items/{item['id']}")
            assert {k: read[k] for k in item if k in read} == {k: v for k, v in item.items() if k in read}, (item, read)
        first = listing["data"][0]
        st, _, h = await call(s, f"/items/{first['id']}", "PUT", {"id": first["id"], "name": "Changed", "done": True},
                              X_Mimic_Session="p")
        assert st == 200 and h["X-Mimic-Twin"] == "update"
        _, again, _ = await call(s, "/items?page=2", X_Mimic_Session="p")  # updated in its place, not moved first
        assert again["data"][0]["id"] == first["id"] and again["data"][0]["name"] == "Changed", (listing, again)
        assert [i["id"] for i in again["data"]] == [i["id"] for i in listing["data"]]


async def test_a_write_only_field_of_an_imported_spec_is_never_told_back(db):
    """Prism's reading of `writeOnly`: a password clients send is stored by the twin, never answered."""
    from mimic_addon.imports.openapi_import import apply_plan, plan_import
    user = {"type": "object", "required": ["name"], "properties": {
        "id": {"type": "integer", "readOnly": True}, "name": {"type": "string"},
        "password": {"type": "string", "writeOnly": True}}}
    ok = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/User"}}}}
    spec = {"openapi": "3.0.3", "info": {"title": "u", "version": "1"}, "servers": [{"url": "http://address:22"}],
            "paths": {"/users": {"post": {"requestBody": ok, "responses": {"201": {"description": "made", **ok}}},
                                 "get": {"responses": {"200": {"description": "all", "content": {"application/json": {
                                     "schema": {"type": "array", "items": {"$ref": "#/components/schemas/User"}}}}}}}},
                      "/users/{id}": {"get": {"responses": {"200": {"description": "one", **ok}}}}},
            "components": {"schemas": {"User": user}}}
    m, s, x = trio()
    with taddons.context(x, m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        apply_plan(m.brain, plan_import(spec))
        st, made, h = await call(s, "/users", "POST", {"name": "Ada", "password": "hunter2hunter2"}, X_Mimic_Session="w")
        assert st == 201 and h["X-Mimic-Twin"] == "create" and made["name"] == "Ada" and "password" not in made
        st, read, h = await call(s, f"/users/{made['id']}", X_Mimic_Session="w")
        assert st == 200 and h["X-Mimic-Twin"] == "read" and "password" not in read
        st, listing, _ = await call(s, "/users", X_Mimic_Session="w")
        assert all("password" not in u for u in listing)


async def test_a_put_of_an_item_the_model_made_up_keeps_what_reading_it_showed(db):
    m, s, x = trio()
    with taddons.context(x, m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        for i in range(1, 25):
            thing = {"id": i, "name": f"T{i}", "created_at": f"2025-01-{1 + i % 28:02d}T00:00:00Z"}
            for f in (flow(f"/things/{i}", status=200, resp_body=json.dumps(thing).encode()),
                      flow(f"/things/{i}", "PUT", json.dumps({"name": f"T{i}"}).encode(), status=200,
                           resp_body=json.dumps(thing).encode(), content_type="application/json"),
                      flow("/things", "POST", json.dumps({"name": f"T{i}"}).encode(), status=201,
                           resp_body=json.dumps(thing).encode(), content_type="application/json")):
                m.brain.learn(from_flow(f, 1 << 20))
        _, shown, _ = await call(s, "/things/5", X_Mimic_Session="k")
        st, put, h = await call(s, "/things/5", "PUT", {"name": "Cinco"}, X_Mimic_Session="k")
        assert st == 200 and h["X-Mimic-Twin"] == "update"
        assert put == {**shown, "name": "Cinco"}  # created_at as reading showed it, not the PUT answer's own


def test_an_override_with_quotes_and_backslashes_reaches_the_command_as_given(db):
    """The admin app runs commands with string arguments; mitmproxy reads a str argument as command-line
    text and undid its backslash escapes, so an override's JSON holding `\\"` broke on the way."""
    import json as _json

    from mimic_addon.control.command_queue import call_as_given

    m, s, x = trio()
    with taddons.context(x, m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        spec = {"body": {"name": 'say "hi"', "path": "C:\\temp\\new"}}
        call_as_given(tctx.master.commands, "mimic.override.set", ["GET", "/items/{item_id}", _json.dumps(spec)])
        assert x.overrides["GET /items/{item_id}"].spec == spec
        m.done()


async def test_twin_state_the_store_refused_is_saved_at_the_next_flush(db, monkeypatch):
    """Twin changes were taken from the dirty set before the write: a refused write lost them from the store
    (until the scope changed again), though the log said "will retry"."""
    from mimic_addon.store.store import StoreError

    m, s, x = trio()
    with taddons.context(x, m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        teach(m)
        await call(s, "/items", "POST", {"name": "Kept"}, X_Mimic_Session="one")
        real = m.store.put_setting
        monkeypatch.setattr(m.store, "put_setting", lambda *a: (_ for _ in ()).throw(StoreError("disk full")))
        x.flush()
        monkeypatch.setattr(m.store, "put_setting", real)
        x.flush()
        saved = m.store.get_setting("serve.twins.session:one")
        assert saved is not None and any(i.get("name") == "Kept" for c in saved["c"].values() for i in c["items"].values())
        m.done()


async def test_pages_of_a_listing_hold_per_page_items_and_agree_on_the_total(db):
    """A mock list ignored ?per_page= (5 items for per_page=2), and the items a session created all sat on
    the first page whatever it asked; the total changed from page to page."""
    m, s, x = trio()
    with taddons.context(x, m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        teach(m)
        st, plain, _ = await call(s, "/items?per_page=2")
        assert st == 200 and len(plain["data"]) == 2
        made = [(await call(s, "/items", "POST", {"name": f"P{i}"}, X_Mimic_Session="pg"))[1]["id"] for i in range(3)]
        pages = [(await call(s, f"/items?page={p}&per_page=2", X_Mimic_Session="pg"))[1] for p in (1, 2)]
        assert [len(p["data"]) for p in pages] == [2, 2]
        shown = [i["id"] for p in pages for i in p["data"]]
        assert set(made) <= set(shown) and len(set(shown)) == 4  # the 3 created on pages 1-2, once each
        assert pages[0]["total"] == pages[1]["total"] >= 4
        m.done()


async def test_a_204_override_answers_no_body(db):
    """An override with status 204 and a template sent a body with Content-Type, which HTTP forbids."""
    m, s, x = trio()
    with taddons.context(x, m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        teach(m)
        x.override_set("DELETE", "/items/{item_id}", 'status: 204\ntemplate: \'{"deleted": true}\'\n')
        f = flow("/items/3", "DELETE")
        await s.request(f)
        assert f.response.status_code == 204 and f.response.content == b""
        assert "Content-Type" not in f.response.headers
        m.done()


async def test_an_item_the_twin_deleted_answers_the_endpoints_own_404(db):
    """The twin's 404 was `{"error": "not found", "id": "43"}` whatever the backend's 404s looked like."""
    m, s, x = trio()
    with taddons.context(x, m, s) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="mock")
        teach(m)
        for i in range(900, 905):
            m.brain.learn(from_flow(flow(f"/items/{i}", status=404, resp_body=json.dumps(
                {"error": {"code": 404, "message": "item not found"}}).encode()), 1 << 20))
        assert (await call(s, "/items/3", "DELETE", X_Mimic_Session="gone"))[0] == 204
        st, body, h = await call(s, "/items/3", X_Mimic_Session="gone")
        assert (st, h["X-Mimic-Twin"]) == (404, "missing") and isinstance(body["error"]["code"], int)
        m.done()
