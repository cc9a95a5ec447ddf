"""The synthesizer: learned schema in, plausible and valid JSON out, deterministically."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import faker.providers.date_time
import jsonschema
import pytest
from faker import Faker

from mimic_addon.model.from_jsonschema import to_schema_node
from mimic_addon.model.schema import SchemaNode
from mimic_addon.serve import faker_fields
from mimic_addon.serve.faker_fields import KINDS, PII, field_kind
from mimic_addon.serve.synth import Context, NameIndex, compile_plan, generate, request_seed

FAKE = Faker()


def learned(values) -> SchemaNode:
    node = SchemaNode()
    for v in values:
        node.observe(v)
    return node


def make(node: SchemaNode, seed: int = 1, ctx: Context | None = None):
    FAKE.seed_instance(seed)
    return generate(compile_plan(node), ctx or Context(), random.Random(seed), FAKE)


USERS = [{"id": i, "name": f"User {i}", "email": f"user{i}@example.com", "role": ["admin", "user"][i % 2],
          "created_at": "2024-01-0%dT10:00:00Z" % (1 + i % 9), "score": 0.5 + i, "tags": ["a"] * (i % 4),
          "uuid": "123e4567-e89b-12d3-a456-42661417400%d" % (i % 10), "note": None if i % 2 else "n"}
         | ({"bio": "hello"} if i % 4 == 0 else {}) for i in range(1, 41)]


def test_types_required_formats_enums_ranges_validate():
    node = learned(USERS)
    schema = node.to_json_schema()
    checker = jsonschema.FormatChecker()
    seen_bio = 0
    for seed in range(60):
        v = make(node, seed)
        jsonschema.validate(v, schema, format_checker=checker)
        assert {"id", "name", "email", "role", "created_at", "score", "tags", "uuid"} <= set(v)
        assert v["role"] in ("admin", "user") and 1 <= v["id"] <= 40 and 0 <= len(v["tags"]) <= 3
        seen_bio += "bio" in v
    assert 0 < seen_bio < 60  # optional, with roughly its learned frequency (1 in 4)


def test_echo_path_params_and_body_fields():
    node = learned(USERS)
    v = make(node, ctx=Context(params={"user_id": "17"}, resource_id="17"))
    assert v["id"] == 17
    v = make(node, ctx=Context(body={"name": "Ada Lee", "role": "admin"}))
    assert v["name"] == "Ada Lee" and v["role"] == "admin"


def test_pagination_agrees_with_the_list():
    node = learned([{"page": p, "per_page": 2, "total": 50, "items": [{"id": 1}, {"id": 2}]} for p in range(1, 6)]
                   + [{"page": 1, "per_page": 5, "total": 9, "items": [{"id": i} for i in range(5)]}])
    v = make(node, ctx=Context(query={"page": "3", "per_page": "2"}))
    assert v["page"] == 3 and v["per_page"] == 2 and len(v["items"]) == 2 and v["total"] >= 6


def test_deterministic_per_seed_and_request():
    node = learned(USERS)
    assert make(node, 5) == make(node, 5)
    assert any(make(node, 5) != make(node, s) for s in range(6, 10))
    a = request_seed(0, "GET", "/users/1", "", b"")
    assert a == request_seed(0, "get", "/users/1", "", b"")
    assert len({a, request_seed(1, "GET", "/users/1", "", b""), request_seed(0, "GET", "/users/2", "", b""),
                request_seed(0, "GET", "/users/1", "x=1", b"")}) == 4


def _clock_at(moment: datetime) -> type[datetime]:
    """A `datetime` whose now() is `moment` (in UTC)."""
    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return moment.replace(tzinfo=UTC).astimezone(tz) if tz else moment
    return Clock


def test_dates_and_times_do_not_follow_the_clock(monkeypatch):
    """Faker's default span ends "now": a second later the same seed gave another timestamp. The
    same day, seven seconds apart, the bodies are the same; the next day they move on."""
    node = learned([{"created_at": "2024-01-0%dT10:00:00Z" % (1 + i % 9), "birth_date": "1990-02-0%d" % (1 + i % 9),
                     "time": "10:0%d:00" % (i % 10), "updatedAt": "2024-03-01T10:00:00.12%dZ" % (i % 10)}
                    for i in range(30)])

    def bodies_at(moment: datetime) -> list:
        for module in (faker.providers.date_time, faker_fields):
            monkeypatch.setattr(module, "datetime", _clock_at(moment))
        return [make(node, seed) for seed in range(8)]

    noon = datetime(2026, 3, 4, 12, 0, 0)
    assert bodies_at(noon + timedelta(seconds=7)) == bodies_at(noon)
    assert bodies_at(noon + timedelta(days=1)) != bodies_at(noon)


def test_pii_enums_never_replay_observed_values():
    node = learned([{"email": e} for e in ["ann@corp.io", "bo@corp.io"] * 10]
                   + [{"first_name": n} for n in ["Annabel", "Bo"] * 10])
    for seed in range(20):
        v = make(node, seed)
        assert v.get("first_name") not in ("Annabel", "Bo")
        assert v.get("email") not in ("ann@corp.io", "bo@corp.io")


NAMES = ["id", "uuid", "email", "firstName", "last_name", "full_name", "username", "phone", "address", "street",
         "city", "state", "country", "zip", "lat", "lng", "url", "avatar_url", "company", "title", "description",
         "price", "currency", "created_at", "updatedAt", "birth_date", "status", "ip_address", "color", "token",
         "total_count", "page", "per_page", "age", "quantity", "rating", "language", "timezone", "version",
         "filename", "slug", "job_title", "is_active", "mime_type", "user_agent", "hash"]


@pytest.mark.parametrize("name", NAMES)
def test_field_heuristics(name):
    kind = field_kind(name)
    assert kind is not None and kind in KINDS
    FAKE.seed_instance(1)
    value = KINDS[kind](FAKE, random.Random(1))
    assert value is not None and value != ""


def test_at_least_forty_heuristics():
    assert len({field_kind(n) for n in NAMES}) >= 40
    assert {"email", "phone", "full_name"} <= PII


def test_heuristic_values_are_plausible():
    node = learned([{"email": "a@b.co", "created_at": "2024-01-01T00:00:00Z", "price": 9.5, "city": "Paris"}] * 3)
    v = make(node)
    assert "@" in v["email"] and v["created_at"].startswith("20") and v["price"] == 9.5


def test_strings_keep_their_observed_shape() -> None:
    import random as _random

    from faker import Faker

    from mimic_addon.serve.synth import Context, compile_plan, generate

    node = SchemaNode()
    for i in range(40):
        node.observe({"user": f"U{i:03d}AB{i % 7}", "team": f"T{i:04d}"})
    plan = compile_plan(node)
    fake = Faker()
    for seed in range(20):
        fake.seed_instance(seed)
        body = generate(plan, Context(), _random.Random(seed), fake)
        for field, head in (("user", "U"), ("team", "T")):
            value = body[field]
            assert value[0] == head and value.isalnum() and value == value.upper(), body


def test_discriminated_variants_generate_only_their_own_fields():
    parts = [{"type": "text", "text": f"t{i}"} for i in range(6)] + \
            [{"type": "image_url", "image_url": {"url": f"https://example.com/{i}.png"}} for i in range(3)]
    node = learned(parts)
    schema = node.to_json_schema()
    seen = set()
    for seed in range(40):
        v = make(node, seed)
        jsonschema.validate(v, schema)
        assert set(v) in ({"type", "text"}, {"type", "image_url"})
        assert ("text" in v) == (v["type"] == "text")
        seen.add(v["type"])
    assert seen == {"text", "image_url"}


# -- what the original spec most likely says: closed sets, fields that go together, variants ---------------


def test_digit_led_enum_values_are_replayed_not_invented():
    node = learned([{"size": s, "memory_limit": m} for s, m in
                    [("1024x1024", "1g"), ("512x512", "4g"), ("256x256", "16g")] * 3])
    for seed in range(20):
        v = make(node, seed)
        assert v["size"] in ("1024x1024", "512x512", "256x256") and v["memory_limit"] in ("1g", "4g", "16g")


def test_long_constant_is_replayed():
    tag = "organization.project.service_account.api_key"
    node = learned([{"object": tag, "id": f"k{i}"} for i in range(4)])
    assert all(make(node, seed)["object"] == tag for seed in range(10))


def test_larger_closed_sets_are_replayed():
    regions = [f"REGION_{c}" for c in "ABCDEFGHIJKL"]  # 12 words, each seen twice
    node = learned([{"residency": r} for r in regions * 2])
    assert all(make(node, seed)["residency"] in regions for seed in range(20))


def test_empty_objects_do_not_make_fields_optional():
    run = {"id": "run_1", "status": "queued", "assistant_id": "asst_1", "model": "m", "created_at": 1}
    node = learned([{"data": [run] * 12 + [{}] * 2}] * 3)  # some items were `{}`
    for seed in range(30):
        for item in make(node, seed)["data"]:
            assert set(item) == set(run), item


def test_fields_in_nearly_all_objects_are_always_generated():
    rows = [{"id": i, "name": f"n{i}", "extra": 1} for i in range(19)] + [{"id": 19, "name": "n19"}]
    rows += [{"id": 20 + i, "name": "x", "rare": True} for i in range(2)]
    node = learned(rows)  # extra: 19/22 = 86% -> as learned; name: 100%; rare: 9%
    bodies = [make(node, seed) for seed in range(60)]
    assert all({"id", "name"} <= set(b) for b in bodies)
    assert 0 < sum("rare" in b for b in bodies) < 30
    rows = [{"id": i, "name": f"n{i}"} for i in range(19)] + [{"id": 19}]  # name: 95%
    assert all("name" in make(learned(rows), seed) for seed in range(60))


def test_variant_objects_beside_strings():
    values = ["auto"] * 2 + [{"type": "allowed", "mode": "required", "tools": [{"name": "a"}]},
                             {"type": "patch"}, {"type": "allowed", "mode": "auto", "tools": []}]
    node = learned([{"tool_choice": v} for v in values])
    seen = set()
    for seed in range(40):
        v = make(node, seed)["tool_choice"]
        if isinstance(v, dict):
            seen.add(v["type"])
            assert set(v) == ({"type", "mode", "tools"} if v["type"] == "allowed" else {"type"}), v
    assert seen == {"allowed", "patch"}


def test_a_value_null_half_the_time_is_shown():
    node = learned([{"next": None}, {"next": "https://api.example.com/items?page=2"}])
    assert all(make(node, seed)["next"] is not None for seed in range(20))


def test_lists_of_words_from_a_closed_set_do_not_repeat():
    node = learned([{"scopes": ["read", "write", "admin", "billing"][: 1 + i % 4]} for i in range(12)])
    for seed in range(30):
        scopes = make(node, seed)["scopes"]
        assert len(scopes) == len(set(scopes)) and set(scopes) <= {"read", "write", "admin", "billing"}


def test_echo_keeps_what_the_client_sent():
    colors = ["red", "blue", "green"]
    node = learned([{"name": n, "color": colors[i % 3]} for i, n in enumerate(["alpha", "bravo", "delta", "kilo"] * 5)])
    for seed in range(20):  # a valid enum value, a string longer than any learned one
        v = make(node, seed, Context(body={"name": "golf course", "color": "red"}))
        assert v == {"name": "golf course", "color": "red"}
    # outside a learned enum (only what was seen): echoed like a backend that stores it
    assert make(node, ctx=Context(body={"color": "teal"}))["color"] == "teal"
    # outside a declared enum (an imported contract): a value of the enum instead
    declared = to_schema_node({"type": "object", "required": ["color"],
                               "properties": {"color": {"type": "string", "enum": colors}}})
    assert make(declared, ctx=Context(body={"color": "red"}))["color"] == "red"
    assert all(make(declared, s, Context(body={"color": "teal"}))["color"] in colors for s in range(10))
    # the right type only
    assert make(node, ctx=Context(body={"name": 5}))["name"] == "5"
    assert isinstance(make(node, ctx=Context(body={"name": True}))["name"], str)


def test_a_path_value_is_echoed_as_sent_only_where_traffic_echoed_it():
    node = learned([{"skill_id": f"skill_{i:016d}", "name": "n"} for i in range(20)])  # always 22 characters
    guessed = Context(params={"skill_id": "skill_short"}, resource_id="skill_short")
    assert make(node, ctx=guessed)["skill_id"] != "skill_short"  # a guess by name must look like the field
    known = Context(params={"skill_id": "skill_short"}, resource_id="skill_short", resource_field="skill_id",
                    resource_learned=True)
    assert make(node, ctx=known)["skill_id"] == "skill_short"


# -- mocks valid wherever the recorded traffic was (bench/mock_validity.py's traffic-valid subset) --------


def test_redacted_placeholders_do_not_shape_mocks():
    # long digit ids that pass the card-number check were stored as `[REDACTED]`: the other values
    # still say what the ids look like (digits, 19 long); a field always redacted keeps no shape at all
    ids = [str(1_200_000_000_000_000_000 + 7919 * i) for i in range(20)]
    node = learned([{"id": v, "secret": "[REDACTED]"} for v in ids + ["[REDACTED]"] * 4])
    for seed in range(30):
        v = make(node, seed)
        assert v["id"].isdigit() and len(v["id"]) == 19, v
        assert "[" not in v["secret"], v


def test_words_seen_once_each_are_replayed_not_invented():
    actions = ["disk_update", "dns_zone_import", "firewall_update", "linode_migrate", "ticket_create",
               "token_create", "user_update", "volume_detach", "backup_restore", "image_delete", "user_create",
               "domain_delete"]  # a hundred-word closed set, 12 seen once each
    node = learned([{"action": a} for a in actions] + [{"action": "user_update"}])
    assert all(make(node, seed)["action"] in actions for seed in range(30))


def test_short_phrases_of_a_closed_set_are_replayed():
    node = learned([{"status": s, "channel": c} for s, c in
                    [("ready", "online"), ("not ready", "in store"), ("deleting", "other")] * 2])
    for seed in range(30):
        v = make(node, seed)
        assert v["status"] in ("ready", "not ready", "deleting") and v["channel"] in ("online", "in store", "other")


def test_fields_named_key_replay_their_values():
    # `...Key` names an identifier (projectTypeKey, issueKey), not a secret: its words are replayed
    node = learned([{"projectTypeKey": "software"}])
    assert all(make(node, seed)["projectTypeKey"] == "software" for seed in range(10))


def test_lists_of_words_are_no_longer_than_the_words_seen():
    node = learned([{"country_codes": ["US"] * k} for k in (1, 1, 3, 5)] + [{"country_codes": []}])
    for seed in range(30):
        codes = make(node, seed)["country_codes"]
        assert codes in ([], ["US"]), codes


def test_objects_never_seen_empty_are_never_generated_empty():
    # stream events: each had one of three optional members, never none
    events = [{"data": {"id": "1"}}] * 3 + [{"errors": [{"title": "x"}]}] * 3 + [{"meta": {"sent": "1"}}] * 3
    node = learned(events)
    assert all(make(node, seed) != {} for seed in range(60))


def test_names_of_things_replay_their_words_names_of_people_do_not():
    node = learned([{"sticker_name": s, "display_name": d} for s, d in
                    [("green_checkmark", "Ann Lee"), ("dancing_unicorn", "Bo Chan")] * 3])
    for seed in range(20):
        v = make(node, seed)
        assert v["sticker_name"] in ("green_checkmark", "dancing_unicorn")
        assert v["display_name"] not in ("Ann Lee", "Bo Chan")


def test_invented_strings_use_only_punctuation_seen_first():
    # paths: only `/` is known to occur; `-`/`_` might be outside the API's pattern
    node = learned([{"check_path": f"/{w}"} for w in ["health", "ping", "status/ok", "v1/up"] * 20])
    for seed in range(30):
        v = make(node, seed)["check_path"]
        assert v.startswith("/") and all(c.isalnum() or c == "/" for c in v), v


def test_a_token_never_seen_unredacted_is_a_uuid():
    node = learned([{"token": "[REDACTED]"}] * 3)
    assert all(len(make(node, seed)["token"]) == 36 for seed in range(10))


def test_invented_ids_keep_the_observed_layout():
    # conversation ids: two numbers joined by one dash, or one long number
    ids = [f"{1000 + 37 * i}-{900_000 + 11 * i}" for i in range(20)] + [str(10**15 + 7 * i) for i in range(20)]
    node = learned([{"conversation_id": v} for v in ids])
    import re as _re
    for seed in range(40):
        v = make(node, seed)["conversation_id"]
        assert _re.fullmatch(r"\d+-\d+|\d+", v), v


def test_skeletons_survive_merge_and_storage():
    a, b = learned(["12-34"]), learned(["5678"])
    a.merge(b)
    assert a.skeletons == {"x-x", "x"}
    assert SchemaNode.from_dict(a.to_dict()).skeletons == {"x-x", "x"}
    text = learned([f"word{i} and some more text, {i}." for i in range(3)])
    assert text.skeletons is None  # text, not a layout


def test_optional_keys_come_as_they_were_seen_together():
    """A summary is either of created rules or of deleted ones: a mock never mixes the two."""
    created = {"summary": {"created": 2, "not_created": 0, "valid": 2, "invalid": 0}}
    deleted = {"summary": {"deleted": 1, "not_deleted": 0}}
    node = learned([created] * 6 + [deleted] * 4)
    kinds = set()
    for seed in range(60):
        keys = frozenset(make(node, seed)["summary"])
        assert keys in {frozenset(created["summary"]), frozenset(deleted["summary"])}, keys
        kinds.add(keys)
    assert len(kinds) == 2


def test_key_sets_survive_the_store_and_merges():
    a = learned([{"x": 1, "y": 2}, {"z": 3}])
    b = SchemaNode.from_dict(a.to_dict())
    assert b.key_sets() == a.key_sets() == [(frozenset({"x", "y"}), 1), (frozenset({"z"}), 1)]
    b.merge(learned([{"z": 4}] * 2))
    assert b.key_sets() == [(frozenset({"z"}), 3), (frozenset({"x", "y"}), 1)]
    many = learned([{f"k{i}": i} for i in range(20)])  # too many kinds: each key on its own again
    assert many.key_sets() is None


def test_key_sets_unknown_from_an_older_store_and_gone_once_a_map():
    stored = learned([{"x": 1}, {"y": 2}]).to_dict()
    del stored["ks"]  # written before key sets were counted
    assert SchemaNode.from_dict(stored).key_sets() is None
    node = learned([{"x": 1}, {"y": 2}])
    node.observe({"550e8400-e29b-41d4-a716-446655440000": 3})  # an id as a key: the object is a map
    assert node.key_sets() is None and node.is_map


# -- closed sets the word rule alone misses (issue 14) ------------------------------------------------


def test_a_number_among_the_words_of_a_closed_set_is_replayed():
    kinds = ["oak", "birch", "red pine", "maple", "cedar", "818"]  # "818" is no word
    node = learned([{"subtype": k} for k in kinds * 2])
    assert {make(node, seed)["subtype"] for seed in range(40)} <= set(kinds)


def test_title_case_words_of_a_type_are_replayed_even_seen_once():
    node = learned([{"audience": {"type": "Gift Card", "size": 3}}])
    assert all(make(node, seed)["audience"]["type"] == "Gift Card" for seed in range(10))


def test_repeated_title_case_values_are_replayed_names_seen_once_are_not():
    node = learned([{"plan": p, "owner": f"Ann Lee{i}"} for i, p in
                    enumerate(["Gold Plan", "Free Plan", "Team Plan"] * 4)])
    for seed in range(20):
        v = make(node, seed)
        assert v["plan"] in ("Gold Plan", "Free Plan", "Team Plan")
        assert not v["owner"].startswith("Ann Lee"), v


def test_a_closed_set_of_more_than_64_words_is_replayed():
    words = [f"kind_{c}{d}" for c in "abcdefghij" for d in "abcdefgh"]  # 80 words, each drawn often
    rng = random.Random(3)
    node = learned([{"subtype": rng.choice(words)} for _ in range(400)])
    assert all(make(node, seed)["subtype"] in words for seed in range(40))


def test_a_field_only_seen_redacted_takes_the_values_of_its_namesake():
    # an object under a secret's name (`auth`) comes blanked; the same field beside it was seen
    status = {"details": {"sync_mode": "FAST"}}
    node = learned([{"auth": {"details": {"sync_mode": "[REDACTED]"}}, "identity": status},
                    {"auth": {"details": {"sync_mode": "[REDACTED]"}},
                     "identity": {"details": {"sync_mode": "SLOW"}}}])
    for seed in range(20):
        assert make(node, seed)["auth"]["details"]["sync_mode"] in ("FAST", "SLOW")


def test_a_field_whose_strings_were_all_redacted_shows_its_other_type():
    # `max_tokens: 4096 | "inf"`: its strings are redacted by the field's name, its numbers are not
    node = learned([{"page_limit": v} for v in (4096, "[REDACTED]", 100, "[REDACTED]")])
    assert all(isinstance(make(node, seed)["page_limit"], int) for seed in range(20))


def test_objects_tagged_by_a_type_property_keep_their_own_values():
    # same keys in every kind of rule, but each kind has fields and operators of its own
    kinds = {"range": ("price", "between"), "match": ("title", "contains"), "flag": ("in_stock", "equals")}
    node = learned([{"rules": [{"rule_type": k, "field": f, "op": o, "value": "x"}
                                    for k, (f, o) in kinds.items()]}] * 2)
    assert "oneOf" not in str(node.to_json_schema())  # one object in the schema, as before
    for seed in range(30):
        for c in make(node, seed)["rules"]:
            assert (c["field"], c["op"]) == kinds[c["rule_type"]], c


def test_a_field_only_seen_redacted_takes_the_values_of_its_namesake_in_another_answer():
    # `authorization` is a secret's name: its object comes blanked; other answers show the field
    blanked = learned([{"authorization": {"decision": "[REDACTED]", "id": "[REDACTED]"}}] * 2)
    transfer = learned([{"transfer": {"decision": d}} for d in ("approved", "declined")])
    FAKE.seed_instance(1)
    for seed in range(20):
        plan = compile_plan(blanked, elsewhere=NameIndex([transfer]))
        assert generate(plan, Context(), random.Random(seed), FAKE)["authorization"]["decision"] in (
            "approved", "declined")


def test_a_namesake_in_an_object_of_the_same_name_comes_first():
    blanked = learned([{"authorization": {"primary_reason": {"code": "[REDACTED]"},
                                          "secondary_reason": {"code": "[REDACTED]"}}}] * 2)
    other = learned([{"primary_reason": {"code": "OUT_OF_STOCK"}}]
                    + [{"secondary_reason": {"code": c}} for c in ("LATE", "DAMAGED", "LATE", "DAMAGED")])
    for seed in range(20):
        value = generate(compile_plan(blanked, elsewhere=NameIndex([other])), Context(), random.Random(seed), FAKE)
        assert value["authorization"]["primary_reason"]["code"] == "OUT_OF_STOCK"
        assert value["authorization"]["secondary_reason"]["code"] in ("LATE", "DAMAGED")


def test_pagination_echoes_what_was_asked_beyond_what_was_seen():
    """Pages 1-2 and sizes 2-3 seen: `?page=50`, `?per_page=5` come back as asked; a page shorter than
    the size asked for is the last one, and the count says so."""
    node = learned([{"page": p, "per_page": s, "total": 6, "items": [{"id": i} for i in range(s)]}
                    for p in (1, 2) for s in (2, 3)])
    v = make(node, ctx=Context(query={"page": "50", "per_page": "2"}))
    assert (v["page"], v["per_page"], len(v["items"])) == (50, 2, 2) and v["total"] >= 100
    v = make(node, ctx=Context(query={"per_page": "2"}))
    assert (v["per_page"], len(v["items"])) == (2, 2) and v["total"] >= (v["page"] - 1) * 2 + 2
    v = make(node, ctx=Context(query={"page": "2", "per_page": "5"}))
    assert (v["page"], v["per_page"]) == (2, 5) and len(v["items"]) <= 3 and v["total"] == 5 + len(v["items"])


def test_the_name_beside_an_email_is_a_persons_and_never_replayed():
    """`name` alone may be a product's (its words are replayed, a closed set); beside an e-mail it is
    a person's, and the people seen are never handed out again."""
    people = ["Alice", "Bob", "Carol", "Dave", "Eve"]
    users = learned([{"id": i, "name": people[i % 5], "email": f"u{i}@example.com"} for i in range(40)])
    assert all(make(users, seed)["name"] not in people for seed in range(20))
    sizes = ["small", "medium", "large"]
    products = learned([{"id": i, "name": sizes[i % 3], "price": 1.5} for i in range(40)])
    assert {make(products, seed)["name"] for seed in range(20)} <= set(sizes)


def test_a_total_counts_the_pages_asked_for_when_the_body_has_no_page_size():
    node = learned([{"page": p, "total": 90, "items": [{"id": i} for i in range(3)]} for p in (1, 2, 3)])
    v = make(node, ctx=Context(query={"page": "3", "per_page": "50"}))
    assert v["page"] == 3 and v["total"] == 100 + len(v["items"])
    assert make(node, ctx=Context(query={"page": "²", "per_page": "9" * 5000})) is not None


def test_a_listing_names_each_object_once():
    """Ids replayed from the few seen (3, 4, 7) would repeat in a list of ten: each is another object."""
    node = learned([{"data": [{"id": i, "name": f"n{i}"} for i in (3, 4, 7) * 3 + (3,)]} for _ in range(6)])
    for seed in range(20):
        ids = [item["id"] for item in make(node, seed)["data"]]
        assert len(ids) == len(set(ids)), ids


def test_listed_ids_stay_below_the_ids_a_twin_gives_new_items():
    """A twin numbers what is created past the largest learned id: listed ids that must be new go below the
    smallest instead (and never crash on ids such as `True` beside `1`)."""
    node = learned([{"data": [{"id": i} for i in (100, 101, 102) * 4]} for _ in range(6)])
    for seed in range(30):
        ids = [item["id"] for item in make(node, seed)["data"]]
        assert len(ids) == len(set(ids)) and max(ids) <= 102, ids
    odd = learned([{"data": [{"id": v} for v in (True, 1, 1, 1.0)]} for _ in range(6)])
    for seed in range(30):
        make(odd, seed)
