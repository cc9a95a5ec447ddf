"""The path-template learner, specified by small traffic stories."""
from __future__ import annotations

import re

import pytest

from mimic_addon.model import segments as seg
from mimic_addon.model.consolidate import consolidate
from mimic_addon.model import paths
from mimic_addon.model.paths import MAX_LITERALS, UNKNOWN, PathTree, Shape, split_path

USER = Shape(frozenset({"id", "name", "email"}))
USER_LIST = Shape(frozenset({"[]", "[].id", "[].name"}))


def learn(tree: PathTree, path: str, shape: Shape = USER, method: str = "GET", echo: dict | None = None) -> str:
    return tree.learn(method, split_path(path), echo or {}, shape).skeleton


def named(tree: PathTree) -> set[str]:
    return {f"{m} {t}" for m, _, t in tree.templates()}


def settled(tree: PathTree) -> set[str]:
    """Templates once the whole traffic is weighed (what `mimic learn` and a stopping proxy do)."""
    consolidate(tree)
    return named(tree)


@pytest.mark.parametrize("segment,kind", [
    ("42", seg.INT), ("550e8400-e29b-41d4-a716-446655440000", seg.UUID), ("deadbeefcafe1234", seg.HEX),
    ("asst_8SuoEGbN6B5DaGAk", seg.PREFIXED), ("file-DZacjF6zLyleEHgHm2Sf", seg.PREFIXED),
    ("2024-01-31", seg.DATE), ("a@b.io", seg.EMAIL), ("v1", seg.VERSION), ("v2.1", seg.VERSION),
    ("users", seg.WORD), ("move-damage-class", seg.SLUG), ("chat.postMessage", seg.WORD),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N", seg.TOKEN),
    # camelCase names with a digit are how programmers name things, not random ids
    ("GetNavigationMenu2", seg.WORD), ("getUserProfileV2", seg.WORD), ("l7FirewallRules", seg.WORD),
    ("oneToOneNatRules", seg.WORD), ("OvAPQKoHSMpWbTiDFtTlfg", seg.TOKEN), ("aB3xK9pQ2mZ7", seg.TOKEN),
    # a word with a number is no detector's value: its neighbours decide (`consolidate`)
    ("digest10", seg.WORD), ("marisol42", seg.WORD), ("k3x9q2mz", seg.TOKEN),
    # an API's version has one or two numbers; three or more are a release tag or an address
    ("v1.33", seg.VERSION), ("v3.18.1", seg.DOTTED), ("1.2.3-rc.1", seg.DOTTED), ("10.0.0.1", seg.DOTTED),
])
def test_segment_kinds(segment: str, kind: str) -> None:
    assert seg.classify(segment) == kind


def test_numeric_ids_become_a_named_parameter() -> None:
    tree = PathTree()
    assert learn(tree, "/users/42") == "/users/42"          # one number may be a name (`/1/boards`) ...
    assert learn(tree, "/users/43") == "/users/{}"          # ... two are values
    assert learn(tree, "/users/42") == "/users/{}"
    assert named(tree) == {"GET /users/{user_id}"}


def test_one_unmistakable_value_is_a_parameter_at_first_sight() -> None:
    tree = PathTree()
    assert learn(tree, "/orders/550e8400-e29b-41d4-a716-446655440000") == "/orders/{}"


def test_a_long_number_is_an_id_even_alone_a_short_one_or_a_date_is_not() -> None:
    tree = PathTree()
    for _ in range(5):  # the one type a client ever asked for, several times
        assert learn(tree, "/linode/types/919564") == "/linode/types/{}"
        assert learn(tree, "/generation/713/") == "/generation/{}/"
        assert learn(tree, "/api/3/issue/picker") == "/api/3/issue/picker"   # a version number
        assert learn(tree, "/2010-04-01/Accounts") == "/2010-04-01/Accounts"  # a release date
    assert settled(tree) >= {"GET /linode/types/{type_id}", "GET /api/3/issue/picker"}


@pytest.mark.parametrize("path,template", [
    ("/1/boards/{i:024x}", "/1/boards/{board_hash}"),
    ("/2010-04-01/Accounts/AC{i:032x}/Calls.json", "/2010-04-01/Accounts/{account_hash}/Calls.json"),
    ("/rest/api/3/issue/{n}", "/rest/api/3/issue/{issue_id}"),
    ("/2/users/{n}/tweets", "/2/users/{user_id}/tweets"),
])
def test_a_constant_segment_stays_literal_whatever_it_looks_like(path: str, template: str) -> None:
    tree = PathTree()
    for i in range(300):
        learn(tree, path.format(i=i, n=1000 + i))
    assert settled(tree) == {"GET " + template}


def test_true_literals_stay_literal_beside_a_parameter() -> None:
    tree = PathTree()
    for i in range(5):
        learn(tree, f"/users/{i}")
    assert learn(tree, "/users/me", Shape(frozenset({"login", "plan", "quota"}))) == "/users/me"
    assert learn(tree, "/pet/findByStatus", Shape(frozenset({"?status", "[]", "[].id"}))) == "/pet/findByStatus"
    assert learn(tree, "/users/7") == "/users/{}"
    assert "GET /users/me" in named(tree)


def test_names_in_paths_are_values_when_the_api_echoes_them() -> None:
    tree = PathTree()
    for name in ("alice", "bob", "alice", "bob"):
        learn(tree, f"/repos/{name}", Shape(frozenset({"login", "id"})), echo={name: "login"})
    assert settled(tree) == {"GET /repos/{login}"}
    # a later, never-seen name, with nothing to tell it apart, joins the parameter when weighed
    learn(tree, "/repos/carol", UNKNOWN)
    assert settled(tree) == {"GET /repos/{login}"}


def test_rpc_style_method_names_stay_literal() -> None:
    tree = PathTree()
    for i in range(60):
        shape = Shape(frozenset({"ok", f"field{i}", f"other{i}"}))
        learn(tree, f"/api/thing{i}.list", shape, method="POST")
    assert len(named(tree)) == 60


def test_late_discovery_regroups_earlier_literals() -> None:
    tree = PathTree()
    assert learn(tree, "/files/readme", UNKNOWN) == "/files/readme"
    assert learn(tree, "/files/11") == "/files/11"
    result = tree.learn("GET", split_path("/files/12"), {}, USER)
    assert result.moved and result.skeleton == "/files/{}"
    assert tree.match("GET", split_path("/files/11")) == "/files/{}"
    settled(tree)  # a rare word beside the parameter, on its routes, with nothing to tell it apart
    assert tree.match("GET", split_path("/files/readme")) == "/files/{}"


def test_versions_are_never_parameters() -> None:
    tree = PathTree()
    for v in ("v1", "v2", "v3"):
        learn(tree, f"/{v}/users", USER_LIST)
    assert named(tree) == {"GET /v1/users", "GET /v2/users", "GET /v3/users"}


def test_a_family_of_siblings_with_one_continuation_is_a_parameter() -> None:
    tree = PathTree()
    for name in ("spring-search", "quiet-river", "bold-ocean", "calm-lake"):
        learn(tree, f"/checkpoints/{name}/permissions", USER_LIST)
    assert settled(tree) == {"GET /checkpoints/{checkpoint_name}/permissions"}


def test_collections_with_their_own_answers_are_not_a_family() -> None:
    tree = PathTree()
    for coll in ("berry", "pokemon", "move", "item"):
        fields = {f"{coll}_{k}" for k in ("size", "kind", "flavor", "power")}
        for page in range(3):
            learn(tree, f"/api/v2/{coll}/", Shape(frozenset({"[]", "[].id"} | {f"[].{f}" for f in fields})))
            learn(tree, f"/api/v2/{coll}/{page + 1}/", Shape(frozenset({"id"} | fields)))
    assert settled(tree) == {f"GET /api/v2/{c}/" for c in ("berry", "pokemon", "move", "item")} | {
        f"GET /api/v2/{c}/{{{c}_id}}/" for c in ("berry", "pokemon", "move", "item")}


def test_parameter_names_are_unique_within_a_template() -> None:
    tree = PathTree()
    for a, b in ((11, 12), (13, 14), (15, 16)):
        learn(tree, f"/{a}/{b}")
    (template,) = {t for _, _, t in tree.templates()}
    assert template == "/{id}/{id2}"


def test_hostile_cardinality_is_bounded() -> None:
    tree = PathTree()
    for i in range(MAX_LITERALS + 50):
        learn(tree, f"/words/w{chr(97 + i % 26)}x{chr(97 + i // 26 % 26)}y{chr(97 + i // 676)}", USER)
    node = tree.root.literals["words"]
    assert len(node.literals) <= MAX_LITERALS
    assert node.param is not None


def test_hostile_cardinality_is_bounded_beside_a_parameter_too() -> None:
    tree = PathTree()
    learn(tree, "/files/1001")  # the position already has a parameter
    for i in range(MAX_LITERALS * 3):
        learn(tree, f"/files/name{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676)}", USER)
    assert len(tree.root.literals["files"].literals) <= MAX_LITERALS


def test_names_below_hostile_names_are_bounded_too() -> None:
    """`/x/<random>/<random>`: once the first position folds, the second positions of all the folded
    names meet in its parameter, and are capped there as well."""
    tree = PathTree()
    words = [f"{a}{b}{c}" for a in "abcdefghij" for b in "klmnopqrst" for c in "uvwxyz"]
    for i in range(3000):
        learn(tree, f"/x/{words[i % len(words)]}{i}/{words[i * 7 % len(words)]}{i}", USER)
    stack, widest = [tree.root], 0
    while stack:
        n = stack.pop()
        widest = max(widest, len(n.literals))
        stack.extend(n.literals.values())
        stack.extend([n.param] if n.param is not None else [])
    assert widest <= MAX_LITERALS
    assert len(named(tree)) <= 2 * MAX_LITERALS


def test_a_full_tree_sends_new_names_to_their_positions_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Endless distinct names below endless distinct names: memory follows a bound, not the traffic."""
    monkeypatch.setattr(paths, "MAX_NODES", 300)
    monkeypatch.setattr(paths, "RECOUNT_EVERY", 16)
    tree = PathTree()
    words = [f"{a}{b}" for a in "abcdefghijklmnop" for b in "qrstuvwxyz"]
    for i in range(3000):
        learn(tree, f"/x/{words[i % len(words)]}/{words[i * 7 % len(words)]}/{words[i * 13 % len(words)]}", USER)
    assert paths._size(tree.root) <= 2 * 300  # a node full of names may still get its parameter
    before = paths._size(tree.root)
    assert "{}" in learn(tree, "/x/brand/new/names")  # routed to a parameter, no new branch
    assert paths._size(tree.root) <= before + 3


def test_deep_paths_are_capped() -> None:
    parts = split_path("/" + "/".join(f"s{i}" for i in range(100)))
    assert len(parts) == 32 and parts[-1].startswith("s31/")


def test_round_trip_keeps_what_was_learned() -> None:
    tree = PathTree()
    for i in range(3):
        learn(tree, f"/users/{i}/orders", USER_LIST)
    learn(tree, "/users/me", Shape(frozenset({"login"})))
    again = PathTree.from_dict(tree.to_dict())
    assert named(again) == named(tree)
    assert again.match("GET", split_path("/users/77/orders")) == "/users/{}/orders"
    assert again.match("GET", split_path("/users/me")) == "/users/me"
    assert again.match("DELETE", split_path("/users/me")) is None


def test_one_coincidental_echo_does_not_make_a_parameter() -> None:
    tree = PathTree()
    gz = Shape(frozenset({"encoding", "data"}))
    for _ in range(3):
        learn(tree, "/gzip", gz, echo={"gzip": "encoding"})
        learn(tree, "/users", USER_LIST, echo={"ada": "name"})
    assert settled(tree) == {"GET /gzip", "GET /users"}


def ids_that_echo(tree: PathTree, n: int = 6) -> None:
    for i in range(1, n + 1):
        learn(tree, f"/users/{i}", USER, echo={str(i): "id", "Ada": "name"})


def test_a_lone_word_beside_self_naming_ids_stays_literal() -> None:
    tree = PathTree()
    ids_that_echo(tree)
    for _ in range(3):
        assert learn(tree, "/users/me", USER, echo={"1": "id", "Ada": "name"}) == "/users/me"
    assert "GET /users/me" in settled(tree)
    assert learn(tree, "/users/7", USER, echo={"7": "id"}) == "/users/{}"


def test_several_words_beside_ids_are_values_even_without_echo() -> None:
    tree = PathTree()
    ids_that_echo(tree)
    for word in ("kanto", "johto", "hoenn"):
        learn(tree, f"/users/{word}", USER, echo={"99": "id"})
    assert settled(tree) == {"GET /users/{user_id}"}


def test_a_literal_that_later_shows_evidence_joins_the_parameter() -> None:
    tree = PathTree()
    ids_that_echo(tree)
    empty = Shape(frozenset({"<empty>"}))
    learn(tree, "/users/alice", empty, method="PUT")            # nothing to echo: undecided
    learn(tree, "/users/alice", USER, echo={"alice": "login"})  # now it names itself
    settled(tree)
    assert tree.match("GET", split_path("/users/alice")) == "/users/{}"


# -- the failure classes of real APIs, as small traffic stories ----------------------------------------

def shape(*keys: str) -> Shape:
    return Shape(frozenset(keys))


def anonymous(templates: set[str]) -> set[str]:
    """Templates with parameter names left out (`{user_id}` -> `{}`): what these stories are about."""
    return {re.sub(r"\{[^}]*\}", "{}", t) for t in templates}


def test_collection_names_with_their_own_ids_and_answers_stay_apart() -> None:
    tree = PathTree()
    kinds = {"apps": ("bundleId", "sku", "locale"), "builds": ("version", "expired", "minOsVersion"),
             "betaGroups": ("isInternal", "publicLink", "feedback"), "devices": ("udid", "platform", "model")}
    for n in range(4):
        for coll, fields in kinds.items():
            attrs = [f"data.attributes.{f}" for f in fields]
            learn(tree, f"/v1/{coll}", shape("data", "data[].id", *[a.replace("data.", "data[].") for a in attrs]))
            learn(tree, f"/v1/{coll}/{n:08x}-aaaa-bbbb-cccc-{n:012x}", shape("data", "data.id", *attrs))
    assert settled(tree) == {f"GET /v1/{c}" for c in kinds} | {f"GET /v1/{c}/{{{c.rstrip('s').lower()}_id}}" for c in kinds}


def test_names_used_as_ids_two_in_a_row() -> None:
    tree = PathTree()
    owners = ["amara57", "kivanova", "spatel", "pli", "grace34", "oscar"]
    repos = ["blog", "proxy", "docs", "engine", "site", "ledger", "lib"]
    issue = shape("id", "number", "title", "body", "labels", "state")
    labels = shape("[]", "[].id", "[].name", "[].color", "[].description")
    for i in range(60):  # each owner with repositories of its own
        owner = owners[i % len(owners)]
        repo = f"{repos[(i * 5 + i // 6) % len(repos)]}-{owner[:3]}"
        learn(tree, f"/repos/{owner}/{repo}/issues/{i + 1}", issue)
        learn(tree, f"/repos/{owner}/{repo}/issues/{i + 1}/labels", labels)
    assert anonymous(settled(tree)) == {"GET /repos/{}/{}/issues/{}", "GET /repos/{}/{}/issues/{}/labels"}
    assert learn(tree, "/repos/newowner/newrepo/issues/9", issue) == "/repos/{}/{}/issues/{}"


def test_a_parameter_in_the_first_segment() -> None:
    tree = PathTree()
    realms = ["master", "store-notes", "backend", "kafka", "editor"]
    user = shape("id", "username", "email", "enabled", "createdTimestamp")
    for i in range(50):
        realm = realms[i % len(realms)]
        learn(tree, f"/{realm}/users", shape("[]", "[].id", "[].username", "[].email", "[].enabled"))
        learn(tree, f"/{realm}/users/{i:08x}-1111-2222-3333-{i:012x}", user)
        learn(tree, f"/{realm}/groups", shape("[]", "[].id", "[].name", "[].path", "[].subGroups"))
    assert {t.split(" ")[1].split("/")[1] for t in settled(tree)} == {"{name}"}


def test_names_under_each_resource_stay_literal_beside_ids() -> None:
    tree = PathTree()
    subs = {"attachments": shape("[]", "[].url", "[].bytes", "[].mimeType"),
            "members": shape("[]", "[].username", "[].fullName", "[].avatar"),
            "list": shape("id", "name", "closed", "pos"), "board": shape("id", "name", "desc", "prefs")}
    for i in range(40):
        for sub, answer in subs.items():
            learn(tree, f"/1/cards/{i:024x}/{sub}", answer)
    assert anonymous(settled(tree)) == {f"GET /1/cards/{{}}/{s}" for s in subs}


def test_a_small_api_keeps_its_names() -> None:
    tree = PathTree()
    for name, answer in {"health": shape("status"), "status": shape("uptime", "load", "version"),
                         "version": UNKNOWN, "metrics": shape("<text/plain>")}.items():
        learn(tree, f"/{name}", answer)
    assert settled(tree) == {"GET /health", "GET /status", "GET /version", "GET /metrics"}


def test_a_collection_named_in_its_answers_kind_is_not_a_value() -> None:
    tree = PathTree()
    for coll in ("apps", "builds", "users"):
        for _ in range(3):
            learn(tree, f"/v1/{coll}", shape("data", "data[].id", f"data[].{coll}_field"), echo={coll: "type"})
    assert settled(tree) == {"GET /v1/apps", "GET /v1/builds", "GET /v1/users"}


def test_a_file_extension_after_a_value_stays_in_the_template() -> None:
    tree = PathTree()
    for i in range(5):
        learn(tree, f"/Queues/QU{i:032x}.json", shape("sid", "friendly_name", "max_size"))
        learn(tree, f"/Queues/QU{i:032x}/Members.json", shape("queue_members", "page", "uri"))
    assert anonymous(settled(tree)) == {"GET /Queues/{}.json", "GET /Queues/{}/Members.json"}


def test_segments_with_braces_or_spaces_are_values() -> None:
    assert seg.classify("{{PAGE_ID}}") == seg.OPAQUE and seg.classify("John Smith") == seg.OPAQUE
    tree = PathTree()
    assert learn(tree, "/v1/pages/{{IZVU_KO}}") == "/v1/pages/{{IZVU_KO}}"
    assert learn(tree, "/v1/pages/{{AXKZ_MB}}") == "/v1/pages/{}"


def test_one_number_beside_words_that_answer_alike_is_a_parameter() -> None:
    tree = PathTree()
    gender = shape("id", "name", "pokemon_species_details", "required_for_evolution")
    for value in ("806", "kanto", "snorlax", "kanto"):
        learn(tree, f"/api/v2/gender/{value}/", gender)
    assert anonymous(settled(tree)) == {"GET /api/v2/gender/{}/"}


def test_numbers_joined_by_a_dash_are_an_id() -> None:
    assert seg.classify("183107052-746889683") == seg.INT
    assert seg.classify("2010-04-01") == seg.DATE


def test_one_number_and_one_word_stay_apart() -> None:
    tree = PathTree()
    learn(tree, "/users/1", USER)
    learn(tree, "/users/me", USER)
    assert settled(tree) == {"GET /users/1", "GET /users/me"}


def test_me_beside_names_that_echo_stays_literal() -> None:
    tree = PathTree()
    users = ["alice", "bob42", "carol-smith", "dave", "erin", "frank9"]
    for i in range(30):
        name = users[i % len(users)]
        learn(tree, f"/v1/users/{name}", shape("login", "id", "email"), echo={name: "login"})
        learn(tree, "/v1/users/me", shape("login", "id", "email", "plan", "quota"), echo={"alice": "login"})
    assert settled(tree) == {"GET /v1/users/me", "GET /v1/users/{login}"}


def test_two_names_in_a_row_with_one_endpoint_below() -> None:
    tree = PathTree()
    issue = shape("id", "number", "title", "state", "labels")
    for i in range(60):
        owner = ("acme", "globex", "initech", "umbrella", "hooli")[i % 5]
        repo = f"{owner}-{('web', 'api', 'cli')[i // 5 % 3]}"
        learn(tree, f"/v1/repos/{owner}/{repo}/issues/{i + 1}", issue)
    assert anonymous(settled(tree)) == {"GET /v1/repos/{}/{}/issues/{}"}


def test_values_whose_small_answers_differ_only_in_optional_query_keys() -> None:
    """Buckets named by their users, one request or two each, answering a one-key document: the
    query's optional keys vary from call to call and do not make two values different resources.
    One bucket name seen again under a second cluster does not make the position one of names."""
    tree = PathTree()
    buckets = ["site", "async", "chat", "engine", "red-brave", "ledger", "nextjs", "k8s", "app", "fast"]
    for i, bucket in enumerate(buckets):
        if i % 2:
            learn(tree, f"/v4/buckets/{1000 + i % 4}/{bucket}/ssl", Shape(frozenset({"ssl"})))
        else:
            query = ("?prefix", "?marker", "?page_size")[i % 3]
            learn(tree, f"/v4/buckets/{1000 + i % 4}/{bucket}/object-list", Shape(frozenset({query})))
    learn(tree, "/v4/buckets/1001/async/ssl", Shape(frozenset({"ssl"})))  # fetched again
    learn(tree, "/v4/buckets/1002/chat/object-list", Shape(frozenset({"?prefix"})))
    learn(tree, "/v4/buckets/1003/site/ssl", Shape(frozenset({"ssl"})))  # the same name in another cluster
    assert anonymous(settled(tree)) == {"GET /v4/buckets/{}/{}/ssl", "GET /v4/buckets/{}/{}/object-list"}


def test_names_leading_on_beside_leaf_names_that_answer_unlike() -> None:
    """`/images/{name}/json` beside `/images/prune`, `/images/create`, ...: the leaf names answer unlike
    each other, which says nothing of the image names, alike on every route below them."""
    tree = PathTree()
    leaves = {"prune": shape("ImagesDeleted", "SpaceReclaimed", "Count"), "create": shape("id", "status", "progress"),
              "load": shape("stream", "error", "errorDetail"), "import": shape("layers", "digest", "manifest"),
              "build": shape("aux", "buildId", "warnings"), "commit": shape("Id", "Warnings", "Parent")}
    for name, answer in leaves.items():
        for _ in range(4):
            learn(tree, f"/v1/images/{name}", answer, method="POST")
    image = shape("Id", "RepoTags", "Created", "Size", "Config")
    history = shape("[]", "[].Id", "[].Created", "[].CreatedBy")
    for i, name in enumerate(["green-proxy", "grpc", "svelte", "blog", "rapid"]):
        learn(tree, f"/v1/images/{name}/json", image)
        if i < 3:
            learn(tree, f"/v1/images/{name}/history", history)
    assert anonymous(settled(tree)) == {f"POST /v1/images/{n}" for n in leaves} | {
        "GET /v1/images/{}/json", "GET /v1/images/{}/history"}


def test_camel_case_names_beside_ids_stay_literal() -> None:
    tree = PathTree()
    for i in range(30):
        net = f"N_{i:016d}"
        learn(tree, f"/networks/{net}/l7FirewallRules", shape("rules", "rules[].policy", "rules[].type"))
        learn(tree, f"/networks/{net}/oneToOneNatRules", shape("rules", "rules[].lanIp", "rules[].publicIp"))
    assert anonymous(settled(tree)) == {"GET /networks/{}/l7FirewallRules", "GET /networks/{}/oneToOneNatRules"}


def test_names_found_to_be_values_elsewhere_are_values_where_their_position_says_little() -> None:
    """`PUT /user/following/{username}` answers nothing, and the same few users are followed again
    and again: alone, a closed set of leaf names. The same names are values at `/users/{username}/...`,
    alike below each of them: so they are values here too. A name among names (`/users/me`-like
    top-level collections) is not swayed by one such word."""
    tree = PathTree()
    users = ["gtanaka", "dave5", "anyanovak", "amara32", "nwang"]
    feeds = shape("[]", "[].id", "[].op_type", "[].created")
    subs = shape("[]", "[].id", "[].full_name", "[].owner", "[].private")
    for i in range(40):
        user = users[i % len(users)]
        learn(tree, f"/api/users/{user}/subscriptions", subs)
        learn(tree, f"/api/users/{user}/activities/feeds", feeds)
        learn(tree, f"/api/user/following/{user}", UNKNOWN, method="PUT")
    learn(tree, "/api/user/repos", shape("[]", "[].id", "[].name"))
    assert anonymous(settled(tree)) == {"GET /api/users/{}/subscriptions", "GET /api/users/{}/activities/feeds",
                                        "PUT /api/user/following/{}", "GET /api/user/repos"}


def test_a_uuid_inside_a_urn_is_a_value() -> None:
    assert seg.classify("urn:vcloud:vdc:550e8400-e29b-41d4-a716-446655440000") == seg.UUID
    tree = PathTree()
    assert learn(tree, "/api/vdcs/urn:vcloud:vdc:550e8400-e29b-41d4-a716-446655440000") == "/api/vdcs/{}"


def test_matrix_parameters_are_not_part_of_the_segment() -> None:
    assert split_path("/ads/view;src=123;ord=456") == ["ads", "view"]
    assert split_path("/a;b/c") == ["a;b", "c"]  # a semicolon alone is part of the name
    tree = PathTree()
    learn(tree, "/ads/view;src=123;ord=456")
    learn(tree, "/ads/view;src=789;ord=111")
    assert named(tree) == {"GET /ads/view"}


def test_two_names_in_a_row_are_an_owner_and_its_item() -> None:
    tree = PathTree()
    repo = shape("id", "name", "full_name", "owner")
    for i in range(60):
        owner = ("amara", "kiv", "spatel", "pli", "grace", "oscar")[i % 6]
        learn(tree, f"/repos/{owner}/{('blog', 'proxy', 'docs', 'engine', 'site')[i % 5]}-{owner[:3]}/issues/{i + 1}", repo)
    assert settled(tree) == {"GET /repos/{owner}/{repo}/issues/{issue_id}"}
    assert tree.named("/repos/{}/{}/issues/{}") == "/repos/{owner}/{repo}/issues/{issue_id}"


def test_leaves_tied_to_one_value_beside_names_used_under_every_value() -> None:
    """`/notes/{id}/{field}`: each field word is fetched again with the same note only, while the
    names (`folder`, `tags`) come back under note after note. The words are one parameter's values,
    the names stay literal, and so does what leads on below them."""
    tree = PathTree()
    fields = [f"{a}-{b}" for a in ("dusk", "ember", "frost", "grove", "harbor", "ivory")
              for b in ("lagoon", "meadow", "nectar", "orchid", "pebble", "quartz")]
    for i in range(36):
        note = f"{i * 7919 + 1000003:024x}"
        learn(tree, f"/notes/{note}/folder", shape("id", "title", "parent"))
        learn(tree, f"/notes/{note}/folder/{fields[i].upper()}", UNKNOWN)
        learn(tree, f"/notes/{note}/tags", shape("[]", "[].id", "[].label"))
        for _ in range(1 + i % 3):  # the same note's field, asked again
            learn(tree, f"/notes/{note}/{fields[i % len(fields)]}", UNKNOWN)
    assert anonymous(settled(tree)) == {"GET /notes/{}/folder", "GET /notes/{}/folder/{}", "GET /notes/{}/tags",
                                        "GET /notes/{}/{}"}


def test_a_few_programmers_names_that_answer_nothing_stay_literal() -> None:
    """Settings written one at a time (`PUT /sheets/{id}/settings/darkMode`), each once or twice:
    mostly seen once, like values, but camelCase names are how programmers name fields."""
    tree = PathTree()
    names = ["darkMode", "emailDigest", "sidebarCollapsed", "autoArchive"]
    for i in range(8):
        learn(tree, f"/sheets/{i * 7919 + 1000003:024x}/settings/{names[i % 4 if i < 4 else 0]}", UNKNOWN, method="PUT")
    assert anonymous(settled(tree)) == {f"PUT /sheets/{{}}/settings/{n}" for n in names}


def test_release_tags_are_values_a_constant_release_in_the_prefix_is_not() -> None:
    tree = PathTree()
    release = shape("tag_name", "name", "assets", "draft")
    for i, tag in enumerate(["v0.2.1", "v1.25.6", "v3.12.0", "v0.8.6", "v2.7.8", "v1.20.1"]):
        learn(tree, f"/api/1.0.0/projects/{1000 + i}/releases/tags/{tag}", release)
        learn(tree, f"/api/1.0.0/projects/{1000 + i}/releases", shape("[]", "[].tag_name", "[].name"))
    assert anonymous(settled(tree)) == {"GET /api/1.0.0/projects/{}/releases/tags/{}", "GET /api/1.0.0/projects/{}/releases"}


def test_gateway_prefixes_seen_once_each_stay_literal() -> None:
    """Three services behind one gateway, one call each: all seen once, like values of an open
    vocabulary, but each leads to an endpoint of its own -- values of one parameter share them."""
    tree = PathTree()
    learn(tree, "/billing/api/invoices", USER_LIST)
    learn(tree, "/users/api/profile", USER)
    learn(tree, "/orders/api/recent", shape("[]", "[].id", "[].items"))
    assert settled(tree) == {"GET /billing/api/invoices", "GET /users/api/profile", "GET /orders/api/recent"}


def test_routes_lists_every_template_a_path_matches() -> None:
    tree = PathTree()
    for i in range(3):
        learn(tree, f"/users/{1000 + i}")
    learn(tree, "/users/me")
    assert tree.routes("GET", split_path("/users/me")) == ["/users/me", "/users/{}"]
    assert tree.routes("GET", split_path("/users/2000")) == ["/users/{}"]
    assert tree.routes("POST", split_path("/users/me")) == []


def test_a_merge_that_does_not_adopt_leaves_the_merged_subtree_apart() -> None:
    tree = PathTree()
    for path in ("/users/1/posts", "/users/2/posts/7", "/users/2/likes"):
        learn(tree, path)
    one, two = tree.root.literals["users"].param, PathTree().root
    learn_two = PathTree(two)
    learn(learn_two, "/posts/9/comments")
    before = two.to_dict()
    pool = paths.Node()
    pool.merge(one, adopt=False)
    pool.merge(two, adopt=False)
    pool.literals["posts"].count += 100  # the pool is changed, what it merged is not
    pool.literals["likes"].count += 100
    assert two.to_dict() == before and one.literals["likes"].count == 1
    assert set(pool.literals) == {"posts", "likes"}
    assert pool.literals["posts"].count == 100 + one.literals["posts"].count + two.literals["posts"].count


def test_action_leaves_beside_values_that_lead_on_stay_literal() -> None:
    """`/widgets/{name}/settings` and `DELETE /widgets/{name}` for many names, each seen once or
    twice: an open vocabulary. `GET /widgets/catalog` and `POST /widgets/reindex` end there too, but
    not as the names that lead on end (with DELETE): they are the collection's actions."""
    tree = PathTree()
    for name in ("amber", "cobalt", "maple", "orchid", "quartz", "sable"):
        learn(tree, f"/widgets/{name}/settings", UNKNOWN, method="POST")
    for name in ("amber", "cobalt"):
        learn(tree, f"/widgets/{name}", UNKNOWN, method="DELETE")
    learn(tree, "/widgets/catalog", UNKNOWN)
    learn(tree, "/widgets/reindex", UNKNOWN, method="POST")
    assert anonymous(settled(tree)) == {"POST /widgets/{}/settings", "DELETE /widgets/{}", "GET /widgets/catalog",
                                        "POST /widgets/reindex"}


def test_leaf_values_that_end_as_the_values_leading_on_do_still_fold() -> None:
    """The control: names only ever deleted (`DELETE /widgets/walnut`) end as the names that lead on
    end, and are values like them."""
    tree = PathTree()
    for name in ("amber", "cobalt", "maple", "orchid", "quartz", "sable"):
        learn(tree, f"/widgets/{name}/settings", UNKNOWN, method="POST")
    for name in ("amber", "cobalt", "walnut", "yarrow"):
        learn(tree, f"/widgets/{name}", UNKNOWN, method="DELETE")
    assert anonymous(settled(tree)) == {"POST /widgets/{}/settings", "DELETE /widgets/{}"}


def test_one_word_asked_for_often_beside_numeric_ids_is_an_alias() -> None:
    """`/accounts/self` answers just as `/accounts/4711` does -- it stands for one of them -- so its
    answers say nothing; asked for again and again, it is no accident but a name of its own."""
    tree = PathTree()
    account = shape("id", "handle", "created_at", "plan")
    for i in range(40):
        learn(tree, f"/accounts/{4000 + i * 37}", account)
    for _ in range(6):
        learn(tree, "/accounts/self", account)
    assert anonymous(settled(tree)) == {"GET /accounts/{}", "GET /accounts/self"}


def test_a_rare_word_beside_numeric_ids_answering_alike_still_folds() -> None:
    """The control: a word seen once, answering as the ids do, with nothing to tell it apart."""
    tree = PathTree()
    account = shape("id", "handle", "created_at", "plan")
    for i in range(40):
        learn(tree, f"/accounts/{4000 + i * 37}", account)
    learn(tree, "/accounts/lindqvist", account)
    assert anonymous(settled(tree)) == {"GET /accounts/{}"}


def test_a_collections_listing_with_an_extension_stays_beside_the_collection() -> None:
    """`/shops/{id}/Orders.json` lists what `/shops/{id}/Orders/{sid}.json` holds: beside the
    collection's own name it is a name too, however alike the listings' pages answer."""
    tree = PathTree()
    shop = f"SH{1000003:032x}"
    names = ("Orders", "Refunds", "Parcels")
    for name in names:
        page = shape("page", "page_size", "uri", "next_page_uri", name.lower())
        for i in range(4):
            learn(tree, f"/shops/{shop}/{name}/{name[:2].upper()}{i * 104729 + 7:032x}.json", shape("sid", "status"))
            learn(tree, f"/shops/{shop}/{name}.json", page)
            learn(tree, f"/shops/{shop}/{name}.json", page, method="POST")
    assert anonymous(settled(tree)) == {f"{m} /shops/{{}}/{n}.json" for m in ("GET", "POST") for n in names} | {
        f"GET /shops/{{}}/{n}/{{}}.json" for n in names}


def test_values_with_an_extension_beside_a_word_that_is_no_collection_still_fold() -> None:
    """The control: `/reports/alpha.json` beside `/reports/alpha/history` (no parameter below it)
    is one value of `/reports/{name}.json` like the others."""
    tree = PathTree()
    report = shape("title", "rows", "columns", "generated")
    for name in ("alpha", "bravo", "cedar", "delta", "ember", "fjord"):
        for method in ("GET", "PUT"):
            learn(tree, f"/reports/{name}.json", report, method=method)
    learn(tree, "/reports/alpha/history", shape("[]", "[].at", "[].by"))
    assert anonymous(settled(tree)) == {"GET /reports/{}.json", "PUT /reports/{}.json", "GET /reports/alpha/history"}


def test_a_word_with_a_number_beside_numeric_ids_is_a_name() -> None:
    """`/channels/digest10/stream` beside `/channels/7301946215/...`: a word with a number is no
    detected id where every value is a number, whatever its length."""
    tree = PathTree()
    channel = shape("id", "title", "owner", "created_at")
    for i in range(40):
        learn(tree, f"/channels/{7301946215 + i * 7919}", channel)
        learn(tree, f"/channels/{7301946215 + i * 7919}/members", shape("[]", "[].id", "[].role"))
    stream = shape("event", "data", "data.id", "data.text")
    for _ in range(20):
        learn(tree, "/channels/digest10/stream", stream)
        learn(tree, "/channels/bulletin/stream", stream)
    assert anonymous(settled(tree)) == {"GET /channels/{}", "GET /channels/{}/members",
                                        "GET /channels/digest10/stream", "GET /channels/bulletin/stream"}


def test_a_word_with_a_number_among_words_answering_alike_is_a_value() -> None:
    """`/people/by/handle/kai07` beside `/people/by/handle/yvette`, ...: among words, a name with a
    number is how user names look, and the words that answer as it does are values with it."""
    tree = PathTree()
    person = shape("data", "data.id", "data.handle", "data.name")
    for name, times in (("yvette", 5), ("quincy", 4), ("odalys", 3), ("kai07", 3)):
        for _ in range(times):
            learn(tree, f"/people/by/handle/{name}", person)
    assert anonymous(settled(tree)) == {"GET /people/by/handle/{}"}


def test_one_name_numbered_stays_literal() -> None:
    """The control: `ipv4` and `ipv6` share their letters -- one name, numbered -- and stay literal
    beside the other names, however alike the two answer."""
    tree = PathTree()
    ranges = shape("data", "data[].range", "data[].prefix", "page")
    answers = {"ipv4": ranges, "ipv6": ranges, "addresses": shape("data", "data[].address", "data[].rdns"),
               "firewalls": shape("data", "data[].rules", "data[].status", "data[].label")}
    for _ in range(4):
        for name, answer in answers.items():
            learn(tree, f"/net/{name}/ranges", answer)
    assert anonymous(settled(tree)) == {f"GET /net/{n}/ranges" for n in answers}


def test_a_word_beside_numeric_ids_that_its_answers_echo_still_folds() -> None:
    """The control: asked for as often as an alias, but named in its own answers (`"handle":
    "lindqvist"`): a value."""
    tree = PathTree()
    account = shape("id", "handle", "created_at", "plan")
    for i in range(40):
        learn(tree, f"/accounts/{4000 + i * 37}", account)
    for _ in range(6):
        learn(tree, "/accounts/lindqvist", account, echo={"lindqvist": "handle"})
    assert anonymous(settled(tree)) == {"GET /accounts/{}"}


def test_leaf_values_read_and_deleted_beside_actions_only_posted_to() -> None:
    """`GET`/`DELETE /drums/{name}` (one name asked for again and again, two others once) beside
    `POST /drums/create`, `/prune` and `/import`, each posted to several times: those answer unlike
    each other, which would veto the family, so they are set apart first as actions."""
    drum = shape("Name", "Driver", "Mountpoint", "Labels")
    tree = PathTree()
    for _ in range(6):
        learn(tree, "/v2/drums/amber", drum)
        learn(tree, "/v2/drums/amber", UNKNOWN, method="DELETE")
    learn(tree, "/v2/drums/cobalt", drum)
    learn(tree, "/v2/drums/maple", UNKNOWN, method="DELETE")
    for _ in range(4):
        learn(tree, "/v2/drums/create", shape("Name", "Driver", "Mountpoint", "CreatedAt"), method="POST")
        learn(tree, "/v2/drums/prune", shape("DrumsDeleted", "SpaceReclaimed"), method="POST")
        learn(tree, "/v2/drums/import", shape("Status", "Progress", "Errors"), method="POST")
    learn(tree, "/v2/drums", shape("[]", "[].Name", "[].Driver"))
    assert anonymous(settled(tree)) == {"GET /v2/drums/{}", "DELETE /v2/drums/{}", "POST /v2/drums/create",
                                        "POST /v2/drums/prune", "POST /v2/drums/import", "GET /v2/drums"}


def test_values_only_ever_written_to_are_not_actions() -> None:
    """`POST /topics/orders` and `POST /topics/emails` again and again, answering alike, beside topics
    read once each: values of the same parameter (records produced to a topic), not actions."""
    topic = shape("name", "partitions", "configs")
    produced = shape("offsets", "offsets[].partition", "offsets[].offset", "key_schema_id")
    tree = PathTree()
    for name in ("audit", "billing", "users", "ledger"):
        learn(tree, f"/v3/topics/{name}", topic)
    for _ in range(4):
        learn(tree, "/v3/topics/orders", produced, method="POST")
        learn(tree, "/v3/topics/emails", produced, method="POST")
    assert anonymous(settled(tree)) == {"GET /v3/topics/{}", "POST /v3/topics/{}"}


def test_a_word_posted_to_once_is_not_set_apart_as_an_action() -> None:
    """A value seen once with POST (`POST /drums/maple`) is no action yet: only repeated POSTs say so."""
    drum = shape("Name", "Driver", "Mountpoint", "Labels")
    tree = PathTree()
    for name in ("amber", "cobalt", "sable"):
        learn(tree, f"/v2/drums/{name}", drum)
    learn(tree, "/v2/drums/maple", drum, method="POST")
    for _ in range(4):
        learn(tree, "/v2/drums/prune", shape("DrumsDeleted", "SpaceReclaimed"), method="POST")
    templates = anonymous(settled(tree))
    assert {"GET /v2/drums/{}", "POST /v2/drums/{}", "POST /v2/drums/prune"} <= templates


def test_words_that_are_the_apis_own_names_elsewhere_stay_literal() -> None:
    """Usage reports per product (`/reports/usage/widgets`, `/reports/usage/invoices`): leaves that
    answer alike, most of them seen once or twice -- like an open vocabulary of values. But several
    of them are the names of the API's own collections at the top (`/widgets/...`, `/invoices`),
    a fixed vocabulary of names: so they are names here too."""
    tree = PathTree()
    top = {"widgets": shape("[]", "[].id", "[].colour"), "invoices": shape("[]", "[].id", "[].total"),
           "customers": shape("[]", "[].id", "[].email"), "reports": shape("[]", "[].id", "[].period")}
    for i in range(12):
        for name, answer in top.items():
            learn(tree, f"/v2/{name}", answer)
    usage = shape("object", "data", "data.[]", "data.[].start", "data.[].end", "data.[].amount", "has_more")
    for word in ["widgets", "invoices", "customers", "calls", "searches", "widgets"]:
        learn(tree, f"/v2/reports/usage/{word}", usage)
    assert anonymous(settled(tree)) == {f"GET /v2/{n}" for n in top} | {
        f"GET /v2/reports/usage/{w}" for w in ["widgets", "invoices", "customers", "calls", "searches"]}


def test_values_that_coincide_with_one_name_elsewhere_still_fold() -> None:
    """Tags seen once each, two of which happen to be collections' names too: a coincidence."""
    tree = PathTree()
    for i in range(12):
        for name in ["widgets", "invoices", "customers", "tags"]:
            learn(tree, f"/v2/{name}", shape("[]", "[].id", f"[].{name}"))
    tag = shape("label", "colour", "created", "count")
    for word in ["react", "billing", "widgets", "k8s-infra", "invoices", "compiler"]:
        learn(tree, f"/v2/tags/{word}", tag)
    assert "GET /v2/tags/{}" in anonymous(settled(tree))


FILES = ["src/app.py", "src/components/Button.tsx", "docs/README.md", ".github/workflows/ci.yml",
         "lib/index.js", "LICENSE", "cmd/server/main.go", "docs/guide/setup.md"]


def file_tree() -> PathTree:
    tree = PathTree()
    for i in range(40):
        site = f"{(i % 5) * 7919 + 1000003:024x}"
        learn(tree, f"/api/sites/{site}", shape("id", "name", "url"))
        learn(tree, f"/api/sites/{site}/files", shape("[]", "[].path", "[].sha"))
        learn(tree, f"/api/sites/{site}/files/{FILES[i % len(FILES)]}", shape("path", "sha", "size"))
    return tree


def test_file_paths_below_a_position_are_one_parameter_taking_the_rest_of_the_path() -> None:
    """`/files/src/app.py`, `/files/.github/workflows/ci.yml`: paths of several depths ending in files
    of several kinds are one value, slashes and all -- not a tree of directory names."""
    tree = file_tree()
    consolidate(tree)
    assert {f"{m} {s}" for m, s, _ in tree.templates()} == {
        "GET /api/sites/{}", "GET /api/sites/{}/files", "GET /api/sites/{}/files/{+}"}
    assert "GET /api/sites/{site_hash}/files/{+file_path}" in named(tree)
    # a path never seen, deeper than any seen, is one of its values
    deeper = split_path(f"/api/sites/{1000003:024x}/files/a/b/c/d/e.rs")
    assert tree.match("GET", deeper) == "/api/sites/{}/files/{+}"
    assert tree.known("GET", deeper) == "/api/sites/{}/files/{+}"
    assert learn(tree, "/api/sites/" + f"{1000003:024x}" + "/files/x/y.txt") == "/api/sites/{}/files/{+}"
    # old skeletons (before the consolidation) route to it, as the Brain re-keys its endpoints
    assert tree.match("GET", split_path("/api/sites/{}/files/src/components/Button.tsx")) == "/api/sites/{}/files/{+}"
    assert tree.match("GET", split_path("/api/sites/{}/files/{}/{}")) == "/api/sites/{}/files/{+}"
    # and it is kept
    again = PathTree.from_dict(tree.to_dict())
    assert named(again) == named(tree)
    assert again.match("GET", deeper) == "/api/sites/{}/files/{+}"


def test_an_apis_format_suffix_at_several_depths_is_no_file_path() -> None:
    """`/Accounts/{sid}/Calls.json` and `/Accounts/{sid}/Calls/{sid}.json`: one extension, the API's
    format, at several depths: REST resources, not files."""
    tree = PathTree()
    for i in range(30):
        acc = f"AC{i * 7919 + 1000003:032x}"
        call = f"CA{i * 104729 + 7:032x}"
        learn(tree, f"/2010-04-01/Accounts/{acc}.json", shape("sid", "friendly_name"))
        learn(tree, f"/2010-04-01/Accounts/{acc}/Calls.json", shape("calls", "page"))
        learn(tree, f"/2010-04-01/Accounts/{acc}/Calls/{call}.json", shape("sid", "status", "to"))
        learn(tree, f"/2010-04-01/Accounts/{acc}/Messages.json", shape("messages", "page"))
    consolidate(tree)
    assert not any("{+}" in s for _, s, _ in tree.templates())


def test_a_brain_re_keys_what_it_learned_under_file_paths_into_the_tail_parameter() -> None:
    from mimic_addon.learn.brain import Brain
    from mimic_addon.learn.observation import Body, Observation

    def answer(path: str, body: bytes) -> Observation:
        return Observation(host="files.example.com", scheme="https", method="GET", target=path,
                           request=Body(b"", "", "", 0), status=200,
                           response=Body(body, "", "application/json", len(body)), latency_ms=5.0, ts=1_700_000_000.0)

    brain = Brain()
    for i in range(120):
        path = FILES[i % len(FILES)]
        brain.learn(answer(f"/api/sites/{(i % 5) * 7919 + 1000003:024x}/files/{path}",
                           b'{"path": "%s", "sha": "ab12", "size": %d}' % (path.encode(), i)))
    brain.settle()
    (host,) = brain.hosts.values()
    files = [ep for (m, s), ep in host.endpoints.items() if "/files/" in s]
    assert [ep.skeleton for ep in files] == ["/api/sites/{}/files/{+}"]
    assert files[0].stats.count == 120 and brain.template(files[0]) == "/api/sites/{site_hash}/files/{+file_path}"


def test_domains_with_actions_below_them_are_no_file_paths() -> None:
    """`/domains/example.com` and `/domains/example.com/actions/verify`: a dot and a top-level domain
    look like a file's extension, but a file has nothing below it (nor does a value have names)."""
    tree = PathTree()
    domains = ["deploy.com", "shop-agent.net", "spark-app.io", "infra.dev", "mail.example.org", "a.co"]
    for i in range(36):
        domain = domains[i % len(domains)]
        learn(tree, f"/3.0/domains/{domain}", shape("domain", "verified", "authenticated"))
        if i % 2:
            learn(tree, f"/3.0/domains/{domain}/actions/verify", shape("domain", "verified"), method="POST")
    consolidate(tree)
    assert not any("{+}" in s for _, s, _ in tree.templates())


def test_a_named_template_lines_up_with_a_concrete_path_the_last_parameter_taking_the_rest() -> None:
    from mimic_addon.serve.replay import fits

    assert paths.aligned("/sites/{site_id}/files/{+file_path}", ["sites", "s1", "files", "a", "b.py"]) == [
        ("sites", "sites"), ("{site_id}", "s1"), ("files", "files"), ("{+file_path}", "a/b.py")]
    assert paths.aligned("/users/{user_id}", ["users", "7", "extra"]) == [("users", "users"), ("{user_id}", "7")]
    assert [paths.param_name(s) for s in ("users", "{user_id}", "{+file_path}")] == [None, "user_id", "file_path"]
    assert fits(("sites", "s1", "files", "a", "b.py"), "/sites/{site_id}/files/{+file_path}")
    assert fits(("sites", "s1", "files", "b.py"), "/sites/{site_id}/files/{+file_path}")
    assert not fits(("sites", "s1", "files"), "/sites/{site_id}/files/{+file_path}")
    assert not fits(("users", "7", "extra"), "/users/{user_id}")


def test_values_with_files_below_them_are_values_and_the_files_start_below_them() -> None:
    """`/sites/my-blog` (an endpoint) and `/sites/my-blog/files/src/app.py`: the site names are values
    whose sub-resource holds the files, not the first directories of one long path."""
    tree = PathTree()
    for i in range(40):
        site = ["my-blog", "shop", "portfolio", "docs-site", "landing"][i % 5]
        learn(tree, f"/sites/{site}", shape("id", "name", "url"))
        learn(tree, f"/sites/{site}/files", shape("[]", "[].path", "[].sha"))
        learn(tree, f"/sites/{site}/files/{FILES[i % len(FILES)]}", shape("path", "sha", "size"))
        learn(tree, f"/deploys/{site}/files/{FILES[(i + 3) % len(FILES)]}", shape("path", "sha", "size"))
    consolidate(tree)
    assert {f"{m} {s}" for m, s, _ in tree.templates()} == {
        "GET /sites/{}", "GET /sites/{}/files", "GET /sites/{}/files/{+}", "GET /deploys/{}/files/{+}"}


@pytest.mark.parametrize("paths_", [
    ["/api/users", "/api/orders", "/api/me", "/health", "/static/js/app.js", "/static/css/main.css",
     "/favicon.ico", "/index.html", "/img/logo.png"],
    # assets three times the API's endpoints: still no `/{+path}` swallowing the API
    ["/api/users", "/api/orders", "/api/me", "/static/js/app.js", "/static/js/vendor.js", "/static/css/main.css",
     "/static/img/logo.png", "/static/img/bg.jpg", "/favicon.ico", "/index.html", "/robots.txt", "/manifest.json"],
    # below the root too: `/app/api/...` beside `/app/static/...`
    ["/app/api/users", "/app/api/orders", "/app/api/me", "/app/static/js/app.js", "/app/static/js/vendor.js",
     "/app/static/css/main.css", "/app/static/img/logo.png", "/app/favicon.ico", "/app/index.html",
     "/app/robots.txt", "/app/manifest.json", "/app/img/bg.jpg"],
])
def test_a_websites_pages_and_assets_beside_its_api_keep_their_templates(paths_: list[str]) -> None:
    tree = PathTree()
    for _ in range(10):
        for p in paths_:
            learn(tree, p, shape("id", "name") if "." not in p else UNKNOWN)
    consolidate(tree)
    assert {s for _, s, _ in tree.templates()} == set(paths_)


@pytest.mark.parametrize("listing_first", [True, False])
def test_a_listing_with_a_trailing_slash_stays_beside_the_files(listing_first: bool) -> None:
    tree = file_tree()
    listing = f"/api/sites/{1000003:024x}/files/"
    if listing_first:
        learn(tree, listing, shape("[]", "[].path"))
    consolidate(tree)
    assert learn(tree, listing, shape("[]", "[].path")) == "/api/sites/{}/files/"
    assert {"/api/sites/{}/files/", "/api/sites/{}/files/{+}"} <= {s for _, s, _ in tree.templates()}
    assert tree.match("GET", split_path(listing)) == tree.known("GET", split_path(listing)) == "/api/sites/{}/files/"
    assert tree.match("GET", split_path(listing + "a/")) == "/api/sites/{}/files/{+}"


def test_a_new_value_at_a_parameter_of_words_reaches_the_files_below_it() -> None:
    tree = PathTree()
    for i in range(70):
        site = ["my-blog", "shop", "portfolio", "docs-site", "landing", "wiki", "store"][i % 7]
        learn(tree, f"/api/sites/{site}", shape("id", "name", "url"))
        learn(tree, f"/api/sites/{site}/files", shape("[]", "[].path", "[].sha"))
        learn(tree, f"/api/sites/{(i % 5) * 7919 + 1000003:024x}/files/{FILES[i % len(FILES)]}", shape("path", "sha"))
    consolidate(tree)
    path = split_path("/api/sites/new-site/files/a/b.py")
    assert tree.known("GET", path) == tree.match("GET", path) == learn(tree, "/api/sites/new-site/files/a/b.py") \
        == "/api/sites/{}/files/{+}"
    # a trailing slash is no file: the new word does not reach the parameter through it
    listing = split_path("/api/sites/other-site/files/")
    assert tree.known("GET", listing) is None and tree.match("GET", listing) is None
    assert learn(tree, "/api/sites/other-site/files/") == "/api/sites/other-site/files/"


def test_names_found_elsewhere_whatever_order_the_traffic_came_in() -> None:
    """A deeper position weighs the names of the shallower ones, met before it or after it."""
    def tree_of(reports_first: bool) -> set[str]:
        tree = PathTree()
        usage = shape("object", "data", "data.[]", "data.[].start", "data.[].amount", "has_more")
        def reports() -> None:
            for word in ["widgets", "invoices", "customers", "calls", "searches"]:
                learn(tree, f"/v2/reports/usage/{word}", usage)
        if reports_first:
            reports()
        for i in range(12):
            for name in ["widgets", "invoices", "customers", "payouts"]:
                learn(tree, f"/v2/{name}", shape("[]", "[].id", f"[].{name}"))
        if not reports_first:
            reports()
        return settled(tree)
    assert tree_of(True) == tree_of(False)
    assert "GET /v2/reports/usage/widgets" in tree_of(True)


TAG_PAGE = shape("?page", "data", "data.[]", "data.[].label", "page", "pages")
TAGGED = shape("?page", "data", "data.[]", "data.[].type", "data.[].data", "data.[].data.id", "data.[].data.label",
               "page", "pages")
TAGS = ["react", "chat", "compiler", "utils", "rust", "k8s-analytics"]


def test_the_items_of_a_listing_are_values_however_few() -> None:
    """`GET /tags` lists the account's tags; `GET /tags/react` reads one of them. A handful of tags,
    each asked for again and again, looks like a fixed vocabulary of names, but their answers are
    no view of the listing (no list of tags): they are its items."""
    tree = PathTree()
    for i in range(40):
        learn(tree, "/v4/tags", TAG_PAGE)
        learn(tree, f"/v4/tags/{TAGS[i % len(TAGS)]}", TAGGED)
    assert anonymous(settled(tree)) == {"GET /v4/tags", "GET /v4/tags/{}"}


def test_views_of_a_listing_are_names() -> None:
    """`GET /issues/assigned`, `/issues/created` ... answer as the listing does (a list of issues,
    some with fields others lack): filtered views of it, names; and so are leaves that are not only
    read (`POST /tags/react` beside the same reads), and leaves answering unlike each other."""
    tree = PathTree()
    views = ["assigned", "created", "mentioned", "subscribed"]
    issues = shape("[]", "[].id", "[].title", "[].state")
    for i in range(40):
        learn(tree, "/issues", issues)
        learn(tree, f"/issues/{views[i % len(views)]}", shape("[]", "[].id", "[].title", "[].state", "[].labels"))
    assert anonymous(settled(tree)) == {"GET /issues"} | {f"GET /issues/{v}" for v in views}
    tree = PathTree()
    for i in range(40):
        learn(tree, "/v4/tags", TAG_PAGE)
        learn(tree, f"/v4/tags/{TAGS[i % len(TAGS)]}", TAGGED, method="POST" if i == 5 else "GET")
    assert "GET /v4/tags/{}" not in anonymous(settled(tree))
    tree = PathTree()  # and leaves unlike the listing and unlike each other are different resources
    for i in range(40):
        learn(tree, "/users", shape("[]", "[].id", "[].login", "[].email"))
        learn(tree, "/users/me", shape("id", "login", "email", "plan"))
        learn(tree, "/users/count", shape("count", "active", "suspended"))
        learn(tree, "/users/stats", shape("signups", "logins", "period"))
    assert anonymous(settled(tree)) == {"GET /users", "GET /users/me", "GET /users/count", "GET /users/stats"}


def test_collections_answering_alike_lists_stay_names_when_they_lead_on_unlike() -> None:
    """An API's own collections answer alike paged lists (`/me/albums`, `/tags/{word}/videos`,
    `/languages`), and pooled, `/me/watched/videos` and `/tags/kafka/videos` align. Values of one
    parameter lead on alike (to the same names, or all to values); `me` leads to names of its own
    and `tags` to values: they are names, not values of a first-segment parameter."""
    page = shape("total", "page", "per_page", "data", "data.[]", "data.[].uri", "data.[].name", "data.[].link")
    videos = shape("total", "page", "per_page", "data", "data.[]", "data.[].uri", "data.[].name", "data.[].duration")
    tag = shape("uri", "name", "tag", "canonical", "metadata")
    tree = PathTree()
    for i in range(30):
        for name in ["albums", "projects", "groups", "channels", "likes", "following"]:
            learn(tree, f"/me/{name}", page)
        learn(tree, "/me/watched/videos", videos)
        learn(tree, f"/me/albums/{1000 + i}/videos", videos)
        for collection, words in (("tags", ["kafka", "django", "green", "rust"]), ("categories", ["music", "art", "jazz"])):
            learn(tree, f"/{collection}/{words[i % len(words)]}", tag)
            learn(tree, f"/{collection}/{words[i % len(words)]}/videos", videos)
        for leaf in ["languages", "contentratings", "creativecommons"]:
            learn(tree, f"/{leaf}", page)
    templates = anonymous(settled(tree))
    assert {"GET /me/albums", "GET /me/watched/videos", "GET /tags/{}/videos", "GET /categories/{}", "GET /languages"} \
        <= templates
    assert not any(t.startswith("GET /{}") for t in templates)


def k8s_list(*fields: str) -> Shape:
    return shape("kind", "apiVersion", "metadata", "items", "items.[]", "items.[].metadata",
                 "items.[].metadata.name", "items.[].metadata.uid", *fields)


def test_lists_of_their_own_below_a_listing_are_collections() -> None:
    """`GET /api/v1` lists the server's resource kinds (`resources.[]`); `/api/v1/pods`, `/nodes` ...
    each answer a list of their own (`items.[]`), alike in their envelope: collections, not items."""
    kinds = {"pods": k8s_list("items.[].spec.containers"), "nodes": k8s_list("items.[].spec.podCIDR"),
             "services": k8s_list("items.[].spec.ports"), "events": k8s_list("items.[].reason")}
    tree = PathTree()
    for _ in range(30):
        learn(tree, "/api/v1", shape("kind", "resources", "resources.[]", "resources.[].name", "resources.[].verbs"))
        for kind, answer in kinds.items():
            learn(tree, f"/api/v1/{kind}", answer)
    assert anonymous(settled(tree)) == {"GET /api/v1"} | {f"GET /api/v1/{k}" for k in kinds}


def test_values_that_each_see_a_few_names_below_them_are_one_parameter() -> None:
    """Each namespace is asked for its pods and for workloads of its own: values share a name below
    them (`pods`), not all of them -- they lead on alike."""
    own = {"default": ["services", "endpoints"], "kube-system": ["configmaps", "leases"],
           "monitoring": ["secrets", "serviceaccounts"], "ingress": ["events", "ingresses"]}
    tree = PathTree()
    for _ in range(20):
        for ns, kinds in own.items():
            learn(tree, f"/api/v1/namespaces/{ns}", shape("kind", "metadata", "metadata.name", "spec", "status"))
            learn(tree, f"/api/v1/namespaces/{ns}/pods", k8s_list("items.[].spec.containers", "items.[].status"))
            for kind in kinds:
                learn(tree, f"/api/v1/namespaces/{ns}/{kind}", k8s_list(f"items.[].{kind}"))
    templates = anonymous(settled(tree))
    assert {"GET /api/v1/namespaces/{}", "GET /api/v1/namespaces/{}/pods"} <= templates
    assert not any("default" in t or "kube-system" in t for t in templates)


def test_reserved_words_are_names_beside_an_open_vocabulary() -> None:
    """Search indices named by customers, each seen once, lead on to `_search`; the cluster's own
    endpoints (`/_cluster/health`, `/_cat/indices`) lead on to routes of their own beside them, as
    a new index would: their leading `_` says they are the API's names. So does a lone `-`
    beside packages (`/-/v1/search` beside `/{package}`). Ids that start with `_` by chance are not
    lowercase names: values still."""
    tree = PathTree()
    for customer in ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka"]:
        learn(tree, f"/logs-{customer}/_search", shape("took", "hits", "hits.total", "hits.hits", "hits.hits.[]"))
    learn(tree, "/_cluster/health", shape("cluster_name", "status", "number_of_nodes", "active_shards"))
    learn(tree, "/_cat/indices", shape("[]", "[].index", "[].health", "[].docs.count"))
    assert anonymous(settled(tree)) == {"GET /{}/_search", "GET /_cluster/health", "GET /_cat/indices"}
    tree = PathTree()
    for package in ["react", "lodash", "express", "chalk", "debug", "semver", "commander", "axios"]:
        learn(tree, f"/{package}", shape("_id", "name", "dist-tags", "versions", "time"))
    learn(tree, "/-/v1/search", shape("?text", "objects", "objects.[]", "objects.[].package", "total"))
    assert anonymous(settled(tree)) == {"GET /{}", "GET /-/v1/search"}
    tree = PathTree()  # ids that happen to start with `_` (base64url: one in 64 does) are values
    for link in ["_8D5VfLD", "Xk3pQ9aZ", "_gyyjVw5", "b7TqL2mW", "Qw8eR5tY", "_OBlgSz8", "mN4bV6cX"]:
        learn(tree, f"/l/{link}", shape("url", "clicks", "created_at"))
        learn(tree, f"/l/{link}/stats", shape("clicks", "referrers", "countries"))
    assert anonymous(settled(tree)) == {"GET /l/{}", "GET /l/{}/stats"}


def test_a_segment_holding_an_escaped_slash_stays_one_segment():
    """`/files/a%2Fb/meta` arrives as the segments files, a/b, meta: its skeleton must read back as those
    three (it was shown, exported and regrouped as files, a, b, meta)."""
    assert paths.skeleton_of(["files", "a/b", "meta"]) == "/files/a%2Fb/meta"
    assert paths.skeleton_parts("/files/a%2Fb/meta") == ["files", "a/b", "meta"]
    assert paths.skeleton_of(["users", "{}"]) == "/users/{}" and paths.skeleton_parts("/users/{}") == ["users", "{}"]
    tree = PathTree()
    skeleton = tree.learn("GET", ["files", "a/b", "meta"], {}, USER).skeleton
    assert skeleton == "/files/a%2Fb/meta" and tree.holds("GET", skeleton)
    assert tree.named(skeleton) == "/files/a%2Fb/meta"
    assert [t for _, _, t in tree.templates()] == ["/files/a%2Fb/meta"]


def test_a_redacted_segment_is_a_value_at_once():
    """A credential in a path (`/reset/<token>`) is stored `[REDACTED]`: a value, never a name, so the
    first request already learns `/reset/{...}` (it was shown and exported as `/reset/%5BREDACTED%5D`)."""
    tree = PathTree()
    assert learn(tree, "/api/reset/[REDACTED]") == "/api/reset/{}"
    assert seg.classify("[REDACTED]") == seg.TOKEN


def test_a_segment_holding_a_percent_sign_reads_back_too():
    tree = PathTree()
    skeleton = tree.learn("GET", ["files", "a%2Fb", "100%"], {}, USER).skeleton  # (`%252F`, `%25` in traffic)
    assert paths.skeleton_parts(skeleton) == ["files", "a%2Fb", "100%"] and tree.holds("GET", skeleton)
    assert tree.named(skeleton) == "/files/a%252Fb/100%25"
