"""The stateful twin's state machine: collections, ids, CRUD, list splicing, bounds and scopes."""
from __future__ import annotations

import random

from mimic_addon.serve import twins
from mimic_addon.serve.twins import Collection, TwinState, apply, find_collection, id_kind_of, list_key_for, splice

C = Collection("h /items", "/items", "/items/{item_id}", "id", "int", 30)
TEMPLATES = [("GET", "/items"), ("POST", "/items"), ("GET", "/items/{item_id}"), ("DELETE", "/items/{item_id}"),
             ("GET", "/other/{x}")]


def test_collections_are_recognised_from_templates():
    assert find_collection(TEMPLATES, ["items"]) == ("/items", "/items/{item_id}", False)
    assert find_collection(TEMPLATES, ["items", "7"]) == ("/items", "/items/{item_id}", True)
    assert find_collection(TEMPLATES, ["other", "7"]) is None  # no POST /other


def test_ids_follow_the_learned_type():
    assert id_kind_of([1, 5, "12"], None, 30) == ("int", 30, "")
    assert id_kind_of(["0b5d6c1e-8a4e-4c7a-9a43-3c2b0a0e8f11"], "uuid", None)[0] == "uuid"
    assert id_kind_of(["usr_ab12", "usr_zz99"], None, None) == ("str", 0, "usr_")
    assert id_kind_of(["A1", "A22"], None, None) == ("str", 0, "A")
    s = TwinState()
    assert [s.new_id("a", C, random.Random(0)) for _ in range(2)] == [31, 32]
    u = Collection("h /o", "/o", "/o/{id}", "id", "uuid")
    assert s.new_id("a", u, random.Random(0)) != s.new_id("a", u, random.Random(0))
    p = Collection("h /p", "/p", "/p/{id}", "id", "str", 0, "usr_")
    assert s.new_id("a", p, random.Random(0)).startswith("usr_")


def crud(s, method, rid=None, body=None, synth=200, synth_body=None, scope="a", query=None):
    return apply(s, scope, C, method, rid is not None, rid, body, query or {}, synth, synth_body,
                 random.Random(1), "data")


def test_crud_cycle():
    s = TwinState()
    created = crud(s, "POST", body={"name": "Ada"}, synth=201, synth_body={"id": 3, "name": "x", "extra": 1})
    assert created.status == 201 and created.body == {"id": 31, "name": "Ada", "extra": 1}
    assert crud(s, "GET", "31").body == created.body
    assert crud(s, "GET", "99") is None  # never created: the model answers
    assert crud(s, "PUT", "31", {"name": "Bo"}).body == {"id": 31, "name": "Bo"}
    assert crud(s, "PATCH", "31", {"x": 1}).body == {"id": 31, "name": "Bo", "x": 1}
    assert crud(s, "GET", "31").body == {"id": 31, "name": "Bo", "x": 1}
    assert crud(s, "GET", "31", scope="b") is None  # scopes are isolated
    assert crud(s, "DELETE", "31", synth=204).status == 204
    assert crud(s, "GET", "31").status == 404
    # a sampled error of the model does not mutate
    assert crud(s, "POST", body={"name": "E"}, synth=500) is None
    assert s.take_changes()[0].keys() == {"a"}


def test_list_splices_created_items_and_keeps_counts():
    s = TwinState()
    crud(s, "POST", body={"name": "Ada"})
    crud(s, "DELETE", "5")
    listing = {"data": [{"id": 5}, {"id": 6}], "total": 2, "per_page": 2}
    out = crud(s, "GET", synth_body=listing).body
    assert out["data"] == [{"id": 31, "name": "Ada"}, {"id": 6}] and out["total"] == 2 and out["per_page"] == 2
    assert splice([{"id": 1}], [{"id": 9}], set(), "id", {}, None) == [{"id": 9}, {"id": 1}]
    paged = splice({"data": [{"id": 1}, {"id": 2}], "total": 2}, [{"id": 9}], set(), "id", {"per_page": "2"}, "data")
    assert paged["data"] == [{"id": 9}, {"id": 1}] and paged["total"] == 3
    assert list_key_for({"meta": [{"a": 1}], "items": [{"id": 1, "name": "x"}]}, {"id", "name"}, {}) == "items"


def test_bounds_and_reset(monkeypatch):
    monkeypatch.setattr(twins, "MAX_ITEMS", 3)
    monkeypatch.setattr(twins, "MAX_SCOPES", 2)
    s = TwinState()
    for i in range(5):
        crud(s, "POST", body={"n": i})
    assert [i["n"] for i in s.items("a", C)[0]] == [2, 3, 4]
    crud(s, "POST", scope="b")
    crud(s, "POST", scope="c")
    assert list(s.scopes) == ["b", "c"] and "a" in s.dropped
    assert s.reset("b") == ["b"] and s.reset() == ["c"] and not s.scopes


def test_the_path_names_the_field_it_echoes():
    props = ["id", "username", "firstName"]
    assert twins.id_field_for("username", props, {"username": 12}) == "username"
    assert twins.id_field_for("name", props, {"username": 3, "id": 1}) == "username"  # learned echoes first
    assert twins.id_field_for("username", props, {}) == "username"                   # the parameter's name
    assert twins.id_field_for("user_id", ["userId", "name"], {}) == "userId"
    assert twins.id_field_for("item_id", ["id", "name"], {}) == "id"
    assert id_kind_of(["7", "12"], None, None, is_string=True) == ("digits", 12, "")
    assert id_kind_of([], None, None, is_string=True) == ("str", 0, "")


U = Collection("h /user", "/user", "/user/{username}", "username", "str", 0, "user")


def test_items_are_keyed_by_the_field_the_path_uses():
    s = TwinState()

    def call(method, rid=None, body=None, synth=200, synth_body=None):
        return apply(s, "a", U, method, rid is not None, rid, body, {}, synth, synth_body, random.Random(1))

    created = call("POST", body={"username": "pblake", "firstName": "P"}, synth_body={"id": 10, "username": "x"})
    assert created.body == {"id": 10, "username": "pblake", "firstName": "P"}
    assert call("GET", "pblake").body == created.body
    assert call("DELETE", "pblake").op == "delete" and call("GET", "pblake").status == 404
    assert call("POST", body={"username": "pblake"}).op == "create" and call("GET", "pblake").op == "read"
    assert call("PUT", "theUser", {"firstName": "Z"}).body == {"firstName": "Z", "username": "theUser"}
    assert call("POST", body={"firstName": "N"}).body["username"].startswith("user")  # no key given: one is made
    # an integer id is never given a word from the path
    assert crud(TwinState(), "PUT", "abc", {"name": "Z"}).body == {"name": "Z"}
    s2 = TwinState()
    assert crud(s2, "POST", body={"id": 7, "name": "Given"}).body["id"] == 7
    assert crud(s2, "POST", body={"id": "x", "name": "Wrong type"}).body["id"] == 31


def test_a_create_naming_an_id_the_twin_holds_is_a_conflict():
    s = TwinState()
    made = crud(s, "POST", body={"id": 7, "name": "First"}, synth=201)
    assert (made.status, made.created) == (201, "7")
    again = crud(s, "POST", body={"id": 7, "name": "Second"}, synth=201)
    assert (again.status, again.op, again.created) == (409, "conflict", None)
    assert crud(s, "GET", "7").body["name"] == "First"  # the first item stands
    crud(s, "DELETE", "7")
    assert crud(s, "POST", body={"id": 7, "name": "Third"}, synth=201).status == 201  # deleted: free again


def test_a_put_replaces_what_clients_send_and_keeps_what_the_server_writes():
    """Clients were seen sending name, price and tags: a PUT of `{"name": ...}` replaces those (price and
    tags gone, as PUT means), while created_at, which only the server writes, stays."""
    c = Collection("h /items", "/items", "/items/{item_id}", "id", "int", 30,
                   client_fields=frozenset({"name", "price", "tags"}))
    s = TwinState()
    made = apply(s, "a", c, "POST", False, None, {"name": "Ada", "price": 2, "tags": ["x"]}, {}, 201,
                 {"id": 1, "name": "x", "price": 1, "tags": [], "created_at": "2026-01-02T00:00:00Z"}, random.Random(1))
    put = apply(s, "a", c, "PUT", True, str(made.body["id"]), {"name": "Ada2"}, {}, 200, {"id": 9}, random.Random(1))
    assert put.body == {"id": 31, "name": "Ada2", "created_at": "2026-01-02T00:00:00Z"}


def test_a_put_keeps_what_every_learned_answer_to_a_put_held() -> None:
    """Some PUTs seen left user_id and total out, and every answer held them: the backend keeps them, so a
    PUT of `{"status": "lost"}` keeps them (they were erased, and answers broke the learned contract)."""
    c = Collection("h /orders", "/orders", "/orders/{order_id}", "id", "int", 30,
                   client_fields=frozenset({"user_id", "total", "status"}), kept=frozenset({"id", "user_id", "total", "status"}))
    s = TwinState()
    made = apply(s, "a", c, "POST", False, None, {"user_id": 5, "total": 9.5, "status": "new"}, {}, 201,
                 {"id": 1, "user_id": 1, "total": 1.0, "status": "x"}, random.Random(1))
    rid = str(made.body["id"])
    put = apply(s, "a", c, "PUT", True, rid, {"status": "lost"}, {}, 200, None, random.Random(1))
    assert put.body == {"id": made.body["id"], "user_id": 5, "total": 9.5, "status": "lost"}
