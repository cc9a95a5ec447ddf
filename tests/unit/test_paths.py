"""The path-template learner, specified by small traffic stories."""
from __future__ import annotations

import pytest

from mimic_addon.model import segments as seg
from mimic_addon.model.paths import MAX_LITERALS, UNKNOWN, PathTree, Shape, split_path

USER = Shape(frozenset({"id", "name", "email"}))
USER_LIST = Shape(frozenset({"[]", "[].id", "[].name"}))


def learn(tree: PathTree, path: str, shape: Shape = USER, method: str = "GET", echo: dict | None = None) -> str:
    return tree.learn(method, split_path(path), echo or {}, shape).skeleton


def named(tree: PathTree) -> set[str]:
    return {f"{m} {t}" for m, _, t in tree.templates()}


@pytest.mark.parametrize("segment,kind", [
    ("42", seg.INT), ("550e8400-e29b-41d4-a716-446655440000", seg.UUID), ("deadbeefcafe1234", seg.HEX),
    ("asst_8SuoEGbN6B5DaGAk", seg.PREFIXED), ("file-DZacjF6zLyleEHgHm2Sf", seg.PREFIXED),
    ("2024-01-31", seg.DATE), ("a@b.io", seg.EMAIL), ("v1", seg.VERSION), ("v2.1", seg.VERSION),
    ("users", seg.WORD), ("move-damage-class", seg.SLUG), ("chat.postMessage", seg.WORD),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N", seg.TOKEN),
])
def test_segment_kinds(segment: str, kind: str) -> None:
    assert seg.classify(segment) == kind


def test_numeric_ids_become_a_named_parameter() -> None:
    tree = PathTree()
    assert learn(tree, "/users/42") == "/users/{}"          # a detected id is a value at first sight
    assert learn(tree, "/users/43") == "/users/{}"
    assert learn(tree, "/users/42") == "/users/{}"
    assert named(tree) == {"GET /users/{user_id}"}


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
    assert named(tree) == {"GET /repos/{login}"}
    # a later, never-seen name joins the parameter even without an echo (an error answer)
    assert learn(tree, "/repos/carol", UNKNOWN) == "/repos/{}"


def test_rpc_style_method_names_stay_literal() -> None:
    tree = PathTree()
    for i in range(60):
        shape = Shape(frozenset({"ok", f"field{i}", f"other{i}"}))
        learn(tree, f"/api/thing{i}.list", shape, method="POST")
    assert len(named(tree)) == 60


def test_late_discovery_regroups_earlier_literals() -> None:
    tree = PathTree()
    assert learn(tree, "/files/readme", UNKNOWN) == "/files/readme"
    result = tree.learn("GET", split_path("/files/9911"), {}, USER)
    assert result.moved and result.skeleton == "/files/{}"
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
    assert named(tree) == {"GET /checkpoints/{checkpoint_name}/permissions"}


def test_collections_with_a_trailing_slash_are_not_a_family() -> None:
    tree = PathTree()
    for coll in ("berry", "pokemon", "move", "item"):
        learn(tree, f"/api/v2/{coll}/", USER_LIST)
        learn(tree, f"/api/v2/{coll}/kanto/", USER)
    assert "GET /api/v2/berry/" in named(tree)


def test_parameter_names_are_unique_within_a_template() -> None:
    tree = PathTree()
    for a, b in ((1, 2), (3, 4), (5, 6)):
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
    assert named(tree) == {"GET /gzip", "GET /users"}


def ids_that_echo(tree: PathTree, n: int = 6) -> None:
    for i in range(1, n + 1):
        learn(tree, f"/users/{i}", USER, echo={str(i): "id", "Ada": "name"})


def test_a_lone_word_beside_self_naming_ids_stays_literal() -> None:
    tree = PathTree()
    ids_that_echo(tree)
    for _ in range(3):
        assert learn(tree, "/users/me", USER, echo={"1": "id", "Ada": "name"}) == "/users/me"
    assert learn(tree, "/users/7", USER, echo={"7": "id"}) == "/users/{}"


def test_several_words_beside_ids_are_values_even_without_echo() -> None:
    tree = PathTree()
    ids_that_echo(tree)
    for word in ("kanto", "johto", "hoenn"):
        learn(tree, f"/users/{word}", USER, echo={"99": "id"})
    assert named(tree) == {"GET /users/{user_id}"}


def test_a_literal_that_later_shows_evidence_joins_the_parameter() -> None:
    tree = PathTree()
    ids_that_echo(tree)
    empty = Shape(frozenset({"<empty>"}))
    learn(tree, "/users/alice", empty, method="PUT")            # nothing to echo: undecided
    learn(tree, "/users/alice", USER, echo={"alice": "login"})  # now it names itself
    assert tree.match("GET", split_path("/users/alice")) == "/users/{}"
