"""Decide path templates with the whole traffic of a host in view.

The online part of the path learner (`PathTree.learn`) only folds detected values (numbers,
UUIDs, ...) into parameters. This pass takes the decisions that need context, top-down over the
tree, at each node between its literal children:

* **Alignment.** Sibling values are compared on what lies below them, but the levels below must
  be compared as they will be once the siblings are one parameter: `/repos/a/x/issues` and
  `/repos/b/y/issues` only look alike once `x` and `y` are seen side by side. So all candidate
  siblings are first pooled into a trial node, the trial is consolidated (recursively), and each
  sibling's endpoints are routed through it: these *aligned routes* are what siblings share.
* **Alike answers.** Siblings that reach the same aligned routes with answers of the same shape
  (keys, query keys, body keys) are values of one parameter; siblings whose answers on a shared
  route differ are different resources (`/v1/apps/{id}` and `/v1/builds/{id}`), however many.
* **Evidence of a value.** Detected shapes and values echoed in bodies make a sibling a value
  unless its answers say otherwise; plain words need a family of at least `FAMILY_MIN` alike
  siblings, or a parameter beside them that they resemble.
* **Names the API repeats.** A word seen after several different segments (`/cards/a1/list`,
  `/cards/b2/list`) is a name; a word whose traffic goes on to detected ids names a collection.
* **Open vocabularies.** Many values seen once mark values where the answers say nothing.
* **Items of a listing.** Leaves only read below a listing (`GET /tags` answering a list), whose
  answers are no view of it, are its items (`/tags/react`, `/tags/chat`), however few and often
  asked for; leaves answering as the listing does are views of it (`/issues/assigned`): names.
* **Names beside values.** Answering alike is not enough where a word is plainly something else:
  a lone word often asked for beside detected ids (an alias, `/accounts/self`), a leaf that does
  not end as the values leading on end (an action), a leaf only ever POSTed to again and again
  beside leaves that are read or deleted (`POST /volumes/prune` beside `GET /volumes/{name}`, an
  action too, unless such leaves answer alike), a collection's listing (`Orders.json` beside
  `Orders/{sid}`), a word with a number beside numeric ids (`digest10`).
* **Values seen elsewhere.** Words folded as values at one position are evidence where they make
  up most of another position's words (`/user/following/{username}` beside `/users/{username}/...`);
  and the words of a fixed vocabulary of names kept at one position are names where several of
  them turn up again (`/usage/images`, `/usage/moderations` beside `/images/...`, `/moderations`).
* **Files.** Paths that go on at several depths below a position and mostly end in files of
  several kinds (`src/app.py`, `docs/README.md`) are one value: a parameter taking the rest of
  the path (`/files/{+file_path}`).
* **Reserved words.** Lowercase names after a `_` or `$` (`_search`, `$metadata`) and a lone `-`
  are the API's own names, never values (ids starting with `_` by chance are not lowercase names).
* **Constancy.** A position with one value stays literal.

Decisions only fold literals into parameters, so every earlier skeleton still routes and the
caller merges what it learned about the folded endpoints (`Brain._regroup`).
"""
from __future__ import annotations

import re
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field

from . import segments as seg
from .paths import PARAM, Node, PathTree, extension

CONTAINED = 0.5      # share of the smaller answer's tokens found in the other: "the same kind of answer"
SIMILAR = 0.8        # share of the shared routes answering alike that makes two values alike
FAMILY_MIN = 3       # alike plain-word siblings that make a parameter without other evidence
MAX_COMPARED = 200   # siblings weighed at one position (the most requested)
SAMPLE = 8           # members of a group a sibling is compared with (its most requested)
MIN_OVERLAP = 0.3    # share of a word's requests on routes a parameter also has, to join it
OPEN = 0.4           # share of values seen once that makes a vocabulary open (Good-Turing)
NAMED_MIN = 2        # words that are names at another position making one of names (`_choose`)
NAMED_SHARE = 3      # ... when they are more than a third of its words
FILE_KINDS_MIN = 3   # distinct extensions that make the paths below a position files' (`_holds_file_paths`)
FILE_SHARE = 0.75    # ... when at least this share of them end in one (`LICENSE`, `Makefile`: files too)
MAX_FILE_DEPTH = 12  # ... looked for at most this deep,
MAX_FILE_NODES = 4096  # ... in at most this many nodes,
FILE_LOOK = 64       # ... and no further than this when fewer than two kinds turned up by then
RARE = 3             # requests of a word that nothing tells apart from the parameter beside it
MIN_TOKENS = 3       # answers described by fewer tokens (`{"ok": true}`, no body) tell nothing
ENVELOPE = 0.5       # tokens in this share of a host's answers (`?api_key`, `data`, `ok`) describe none
ENVELOPE_MIN = 20    # ... once the host has this many distinct kinds of successful answer


_RESERVED = re.compile(r"[_$][a-z][a-z0-9]*(?:_[a-z0-9]+)*")  # (`_reserved`)


@dataclass(slots=True)
class Route:
    count: int = 0
    tokens: set[str] = field(default_factory=set)


Profile = dict[str, Route]


def consolidate(tree: PathTree) -> bool:
    """Consolidate the whole tree in place. True if any literal was folded into a parameter.

    Words found to be values at one position are evidence wherever else they turn up: a user's
    name folded at `/users/{username}` is a value at `/user/following/gtanaka` too. Positions met
    before the evidence was found are visited again at the end."""
    values: set[str] = set()
    tokens = (_envelope.set(_envelope_of(tree.root)), _values.set(values), _names.set(set()),
              _root.set(tree.root))
    try:
        moved = _settle(tree.root)
        return _revisit(tree.root, values) or moved
    finally:
        _envelope.reset(tokens[0])
        _values.reset(tokens[1])
        _names.reset(tokens[2])
        _root.reset(tokens[3])


# per consolidation (each thread sets its own): the envelope of the tree; the plain words folded
# into parameters so far; the words of the positions of names settled so far (`_decide`); how
# deep in trial pools the pass is (trials record nothing); the tree's root
_envelope: ContextVar[frozenset[str]] = ContextVar("envelope", default=frozenset())
_values: ContextVar[set[str]] = ContextVar("values", default=set())
_names: ContextVar[set[str]] = ContextVar("names", default=set())
_trial: ContextVar[int] = ContextVar("trial", default=0)
_root: ContextVar[Node | None] = ContextVar("root", default=None)


def _revisit(node: Node, values: set[str]) -> bool:
    """Settle again the positions where several words are values found elsewhere."""
    known = sum(1 for v in node.literals if v in values)
    if known >= 2 and 2 * known > len(node.literals):
        return _settle(node)
    moved = False
    for child in list(node.literals.values()):
        moved |= _revisit(child, values)
    if node.param is not None:
        moved |= _revisit(node.param, values)
    return moved


def _envelope_of(root: Node) -> frozenset[str]:
    """Tokens common to a large share of the host's distinct answers: the API's envelope and its
    authentication parameters, which say nothing about which resource answered. Distinct token
    sets are counted, so that one resource seen under many ids does not pass for many resources."""
    answers: set[frozenset[str]] = set()
    for node in root.walk():
        for method in node.ends:
            tokens = node.shapes.get(method + " ")
            if tokens:
                answers.add(frozenset(tokens))
    if len(answers) < ENVELOPE_MIN:
        return frozenset()
    df: dict[str, int] = {}
    for answer in answers:
        for t in answer:
            df[t] = df.get(t, 0) + 1
    return frozenset(t for t, k in df.items() if k >= ENVELOPE * len(answers))


def _settle(node: Node) -> bool:
    """Decide every position below `node`, level by level: the names and values a position's
    decision finds (`_names`, `_values`) are evidence for deeper positions, so that the API's
    top-level names are known wherever they turn up again, whatever order the traffic came in."""
    moved = False
    level = [node]
    while level:
        deeper: list[Node] = []
        for n in level:
            if _holds_file_paths(n):
                tail = Node(tail=True)
                for child in [c for v, c in n.literals.items() if v] + ([n.param] if n.param is not None else []):
                    tail.merge(child)  # (a tail takes in what lay below it: `Node.merge`)
                n.literals, n.param = {v: c for v, c in n.literals.items() if not v}, tail
                moved = True
                continue
            folded, settled = _decide(n)
            moved |= folded
            deeper.extend(n.literals.values())
            if n.param is not None and not settled:
                deeper.append(n.param)
        level = deeper
    return moved


def _decide(node: Node) -> tuple[bool, bool]:
    """Fold the literal children of `node` that are values into its parameter. Returns whether
    anything moved, and whether the parameter's subtree is already consolidated."""
    cands = [v for v, c in node.literals.items() if v and c.declared is None and seg.classify(v) != seg.VERSION
             and not _reserved(v)]
    if not cands or (node.param is None and len(cands) < 2):
        return False, False
    if node.param is not None and node.param.declared is not None:
        join, pool = cands, None  # an imported spec says what the position is
    else:
        join, pool = _choose(node, cands)
    if not join:
        if node.param is None and len(cands) >= FAMILY_MIN and _openness(node, cands) < OPEN and not _trial.get():
            # a fixed vocabulary of names, all kept: the API's own words (the few seen once there
            # and leading nowhere may be values nothing vouched for: they are left out)
            _names.get().update(v for v in cands if node.literals[v].count > 1 or _onward(node.literals[v]))
        return False, False
    if not _trial.get():
        _values.get().update(v for v in join if not node.literals[v].evidence)
    if pool is not None and len(join) == len(cands):
        # everything joined: the consolidated trial pool is exactly the new parameter's subtree
        for v in join:
            pool.words |= not node.literals.pop(v).evidence
        node.param = pool
        return True, True
    param = node.param or Node()
    for v in join:
        child = node.literals.pop(v)
        param.words |= not child.evidence
        param.merge(child)
    node.param = param
    return True, False


def _reserved(segment: str) -> bool:
    """A lowercase name marked as the API's own by its first character (`_search`, `_all_docs`,
    `_cluster/health`, `$metadata`) or a lone `-` (`/-/v1/search`, `/group/project/-/issues`):
    names, never values. Ids that happen to start so (base64url: `_5rK_gqv81RK`, `_OBlgSz8sSM`; one
    in 64 does) are mixed case or end oddly (`_vargas_`): not reserved."""
    return segment == "-" or _RESERVED.fullmatch(segment) is not None


def _holds_file_paths(node: Node) -> bool:
    """Do the paths below `node` name files (`src/app.py`, `.github/workflows/ci.yml`, `README.md`):
    endpoints at several depths, three in four ending in a file's extension, of several kinds, in
    several directories, and nothing else? Then the rest of the path is one value (a TAIL
    parameter). An API's own format suffix is one extension (`/Calls.json`, `/Calls/{sid}.json`):
    several are files; files under one name only (`/sites/{id}/files/...`) start below it; a file
    has nothing below it, a directory is not an endpoint of its own, and values have no names below
    them (`/sites/my-blog` and `/sites/my-blog/files/...`, `/domains/{domain}/actions/verify`:
    resources, not files). Conservative: a website's root (`/api/users` beside `/static/app.js`)
    or a files API that lists directories (`GET /contents/src`) keeps its templates."""
    if node.param is not None and (node.param.tail or node.param.declared is not None):
        return False
    if node is _root.get():  # an API's first segment names something (`/api`, `/static`)
        return False
    kids = {v: c for v, c in node.literals.items() if v}  # (`/files/`, a listing, stays apart)
    if not kids or any(c.declared is not None for c in kids.values()):
        return False
    # the same names below every child that leads on: values with their sub-resources
    # (`/deploys/{a,b}/files/...`), not directories
    leading = [set(c.literals) | ({PARAM} if c.param is not None else set())
               for c in list(kids.values()) + ([node.param] if node.param is not None else [])
               if c.literals or c.param is not None]
    if len(leading) >= 2 and set.intersection(*leading):
        return False
    depths: set[int] = set()
    exts: list[str] = []
    firsts: set[int] = set()  # the children of `node` that files lie under
    ends = 0
    below_first: Counter[int] = Counter()  # endpoints below each child of `node` (not at it) ...
    files_below_first: Counter[int] = Counter()  # ... and those of them ending in a file
    stack = [(child, 1, extension(v), id(child)) for v, child in kids.items()]
    if node.param is not None:
        stack.append((node.param, 1, node.param.ext or "", id(node.param)))
    params = {id(node.param)} if node.param is not None else set()  # (the parameters met)
    visited = 0
    while stack:
        n, depth, ext, first = stack.pop()
        visited += 1
        if n.declared is not None or n.tail or depth > MAX_FILE_DEPTH or visited > MAX_FILE_NODES or (
                visited == FILE_LOOK and len(set(exts)) < 2):
            return False  # (bounded work at every position: most positions hold no files at all)
        below = bool(n.literals) or n.param is not None
        if below and (ext or n.ends or (n.literals and id(n) in params)):
            return False  # a file has nothing below it, a directory is not asked for, and values have
            # no names below them: `/domains/example.com/verify`, `/sites/my-blog/files` are resources'
        if n.ends:
            ends += 1
            depths.add(depth)
            if depth > 1:
                below_first[first] += 1
                files_below_first[first] += bool(ext)
            if ext:
                exts.append(ext)
                firsts.add(first)
        stack.extend((c, depth + 1, extension(v), first) for v, c in n.literals.items())
        if n.param is not None:
            params.add(id(n.param))
            stack.append((n.param, depth + 1, n.param.ext or "", first))
    # a first segment leading only to endpoints that are no files (`/api/users`, `/api/orders`)
    if any(below_first[id(c)] >= 2 and not files_below_first[id(c)] for c in kids.values()):
        return False
    return (ends >= FAMILY_MIN and len(depths) >= 2 and FILE_SHARE * ends <= len(exts)
            and len(set(exts)) >= FILE_KINDS_MIN and len(firsts) >= 2)


def _listing(node: Node, v: str) -> str | None:
    """The sibling whose name `v` is with a file extension (`Orders.json` beside `Orders/{sid}.json`),
    if that sibling leads on to a parameter: `v` is then the collection's listing in that format, a
    name as long as the collection's is one."""
    ext = extension(v)
    stem = v[: -len(ext)] if ext else ""
    child = node.literals.get(stem) if stem else None
    return stem if child is not None and child.param is not None else None


def _choose(node: Node, cands: list[str]) -> tuple[list[str], Node]:
    """The literal children of `node` that are values of its (new or existing) parameter, and the
    consolidated trial pool of all of them (with the parameter)."""
    pool = Node()
    for v in cands:
        pool.merge(node.literals[v], adopt=False)
    if node.param is not None:
        pool.merge(node.param, adopt=False)
    depth = _trial.set(_trial.get() + 1)
    try:
        _settle(pool)
    finally:
        _trial.reset(depth)
    prof = {v: _profile(node.literals[v], pool) for v in cands}
    kids = node.literals
    # detected values; and words with a number (`alice27`), values among words -- unless a parameter
    # of detected ids is beside them, to which they would be strangers (`/items/sample10/feed` beside
    # `/items/1830462/feed`), or a sibling has their letters: one name numbered (`ipv4`, `ipv6`)
    stems = Counter(v.rstrip("0123456789") for v in kids)
    detected = {v for v in cands if kids[v].evidence or (
        seg.is_numbered(v) and stems[v.rstrip("0123456789")] == 1 and not _ids_only(node.param))}
    strong = [v for v in cands if v in detected]
    echoed = [v for v in cands if v not in detected and kids[v].value_like]
    known = _values.get()
    # values at another position, where they are most of this one's words (one or two such words
    # among names -- `me`, `groups` -- say nothing); programmers' names (`latencyStats`) never count
    elsewhere = [v for v in cands if v in known and v not in detected and not kids[v].value_like
                 and not seg.is_identifier(v)]
    if len(elsewhere) < 2 or 2 * len(elsewhere) <= len(cands):
        elsewhere = []
    seeds = [v for v in strong + echoed + elsewhere if _coherent(v, strong + echoed + elsewhere, prof)]
    if node.param is None and len(seeds) == 1 and seeds[0] in detected:
        # one detected value: a parameter if words beside it answer alike (`/gender/806/`,
        # `/gender/kanto/`, `/gender/snorlax/`), a literal alone (`/1/boards`) or beside one word
        # (`/users/1` and `/users/me` may well be an id and a name)
        alike = [v for v in cands if v != seeds[0] and v not in detected
                 and _joins(kids[v], prof[v], prof[seeds[0]], None) and _relation(prof[v], prof[seeds[0]]) is not None]
        seeds = seeds if len(alike) >= 2 else []
    if node.param is None and len(seeds) == 1 and seeds[0] not in detected:
        seeds = []  # one echo alone is a coincidence (`GET /gzip` -> `"encoding": "gzip"`)
    words = [v for v in cands if v not in seeds]
    # names the API uses at another position (`/v1/images/...`, `/v1/moderations`), where a fixed
    # vocabulary of names was kept: several of them among the words make this a position of names
    # too (`/usage/images`, `/usage/moderations`), as values drawn from an open vocabulary (users,
    # tags) seldom coincide with the API's own words even once
    named = sum(1 for v in words if v in _names.get())
    if named >= NAMED_MIN and NAMED_SHARE * named > len(cands):
        words = []
    openness = _openness(node, cands)
    if openness < OPEN and _items_of_listing(node, words, prof):
        openness = OPEN  # (as if the vocabulary were open: what `_family` asks of the leaves then)
    if _leads_to_values(pool):
        # `/starred/{owner}/{repo}`: values followed by values -- the words that lead on, that is,
        # and below a parameter (where names recur under its values) the leaves tied to one value
        # (`/checklists/{id}/{field}` beside `/checklists/{id}/board/{field}`)
        openness = max(openness, OPEN)
        below_param = any(kids[v].recurring for v in cands)
        words = [v for v in words if _onward(kids[v]) or (below_param and not kids[v].recurring)]
    below = {v: _below(kids[v], pool) for v in words}
    family = _family(words, prof, kids, openness, below)
    chosen = seeds + family
    group = [_profile(node.param, pool)] if node.param is not None else []
    theirs = _union(group + [prof[v] for v in chosen])
    chosen += [v for v in cands if v not in chosen and _joins(kids[v], prof[v], theirs, node.param)]
    # a word or two beside values that name themselves in their answers, that did not when it
    # could, stays literal (`/users/me` beside `/users/alice` answering `"login": "alice"`)
    silent = [v for v in chosen if not kids[v].evidence and kids[v].informative and not kids[v].echoes]
    naming = [v for v in chosen if kids[v].value_like]
    if node.param is not None:  # beside detected ids that echo: only a lone word (several are values)
        drop = len(silent) == 1 and node.param.echoing
    else:  # beside words that echo
        drop = 0 < len(silent) <= 2 and len(naming) >= max(3, 4 * len(silent))
    if drop:
        chosen = [v for v in chosen if v not in silent]
    # beside detected ids only, one word is an alias (`/accounts/self` beside `/accounts/4711`), and
    # an alias answers as what it stands for: alike answers say nothing, as for the rare word
    # nothing tells apart, but a word asked for more often than that is not an accident (a word
    # its answers echo is a value, though)
    plain = [v for v in chosen if not kids[v].evidence]
    if len(plain) == 1 and kids[plain[0]].count > RARE and not kids[plain[0]].value_like and _ids_only(node.param):
        chosen.remove(plain[0])
    # a listing stays a name as long as its collection does
    chosen = [v for v in chosen if (stem := _listing(node, v)) is None or stem in chosen]
    if node.param is None and len(chosen) < 2:
        return [], pool
    return chosen, pool


def _joins(child: Node, mine: Profile, theirs: Profile, param: Node | None) -> bool:
    """Does one literal sibling belong to the parameter whose routes are `theirs`?"""
    rel = _relation(mine, theirs)
    if child.evidence:
        return rel is None or rel >= SIMILAR / 2
    if child.value_like:
        return rel is None or rel >= SIMILAR
    if _names_collection(child):
        return False
    # against a parameter's union of many answers containment proves little on one route; on
    # several routes at once it does (`/repos/{owner}/k8s-docs/...` answering like the other repos)
    rel, compared = _compare(mine, theirs)
    if compared < 2:
        rel, compared = _compare(mine, theirs, jaccard=True)
    if rel is None:  # nothing said either way: a rare word on the parameter's own routes is a value
        return child.count <= RARE and not child.recurring and _overlap(mine, theirs) == 1.0
    if rel < SIMILAR or _overlap(mine, theirs) < MIN_OVERLAP:
        return False
    return not (child.recurring and compared < 2)  # a name used under several resources


def _ids_only(param: Node | None) -> bool:
    """A parameter whose values are all detected ids (numbers, hashes, UUIDs ...), no plain words."""
    return param is not None and not param.words and bool(param.kinds) and all(seg.is_strong(k) for k in param.kinds)


def _coherent(v: str, group: list[str], prof: dict[str, Profile]) -> bool:
    """Not contradicted: its answers are not unlike those of most group members it shares routes with."""
    alike = unlike = 0
    for w in group:
        if w == v:
            continue
        rel = _relation(prof[v], prof[w])
        if rel is None:
            continue
        if rel >= SIMILAR / 2:
            alike += 1
        else:
            unlike += 1
    return unlike <= alike


def _leads_to_values(pool: Node) -> bool:
    """Pooled, the next position is a parameter of plain words (names used as values)."""
    param = pool.param
    if param is None or not param.kinds:
        return False
    strong = sum(n for k, n in param.kinds.items() if seg.is_strong(k))
    return 2 * strong < sum(param.kinds.values()) and len(pool.literals) <= len(param.contexts)


def _openness(node: Node, cands: list[str]) -> float:
    """Share of the position's values seen once: high while new values keep coming (ids, names),
    near zero for a fixed vocabulary of names, however many (a Good-Turing view)."""
    once = sum(1 for v in cands if node.literals[v].count == 1)
    return once / len(cands) if cands else 0.0


def _family(words: list[str], prof: dict[str, Profile], kids: dict[str, Node], openness: float,
            below: dict[str, frozenset[str]]) -> list[str]:
    """Plain words that are one parameter's values, by the strength of the evidence:

    * alike answers on several shared routes (`/repos/{owner}/...`: many endpoints below each
      owner, answering alike) -- a family of FAMILY_MIN such words is a parameter;
    * alike answers on one route only (leaves: `/tags/react`, `/tags/chat`), or no answers that
      say anything -- then only an open vocabulary (many values seen once), or a listing they are
      the items of (`_items_of_listing`), makes a parameter, as method names and fields
      (`/api/chat.postMessage`, `/boards/{id}/prefs`) are a fixed set.
    Words mostly unlike each other are different resources, however many. `below`: where each
    word leads on (`_below`); alike pairs count as deep only where they lead on alike."""
    seen_twice = [v for v in words if kids[v].count > 1]
    if seen_twice and 2 * sum(kids[v].recurring for v in seen_twice) > len(seen_twice):
        return []  # names the API uses under each of its resources sit here: a position of names
    order = sorted((v for v in words if not _names_collection(kids[v])), key=lambda v: (-kids[v].count, v))
    order = order[:MAX_COMPARED]
    # leaves only: words only ever POSTed to, again and again (`create`, `prune`), are actions beside
    # the values read and deleted there (`GET`/`DELETE /volumes/{name}`), and the values are judged
    # apart (how open their vocabulary is included) -- unless those words answer alike: values only
    # ever written to (`POST /topics/orders`, `POST /topics/emails`)
    if not any(_onward(kids[v]) for v in order):
        actions = [v for v in order if kids[v].count > 1 and set(kids[v].ends) == {"POST"}]
        if actions and len(order) - len(actions) >= FAMILY_MIN and not _alike_mostly(actions, prof):
            order = [v for v in order if v not in actions]
            openness = max(openness, sum(kids[v].count == 1 for v in order) / len(order))
    if len(order) < FAMILY_MIN:
        return []
    groups: list[list[str]] = []
    alike_pairs = unlike_pairs = unlike_onward = deep_pairs = 0
    for v in order:
        best, best_score = None, 0
        for g in groups:
            alike = unlike = 0
            for w in g[:SAMPLE]:  # a group is judged by its most requested members
                rel, n = _compare(prof[v], prof[w])
                if rel is None:
                    continue
                if rel >= SIMILAR:
                    alike += 1
                    deep_pairs += (n >= 2 or _beyond(prof[v], prof[w])) and _same_below(below[v], below[w])
                else:
                    unlike += 1
                    unlike_onward += _onward(kids[v]) and _onward(kids[w])
            alike_pairs += alike
            unlike_pairs += unlike
            if alike and alike > unlike and alike - unlike > best_score:
                best, best_score = g, alike - unlike
        if best is not None:
            best.append(v)
        else:
            groups.append([v])
    best = max(groups, key=len)
    deep = len(best) >= FAMILY_MIN and deep_pairs >= FAMILY_MIN
    # Mostly unlike each other: method names, collections. Values alike below them are weighed
    # against the words that also lead somewhere: leaf names beside them (`/images/prune` beside
    # `/images/{name}/json`) answer unlike each other and say nothing of the values.
    if (unlike_onward if deep else unlike_pairs) * 3 > alike_pairs:
        return []
    unlike_best = {v for v in order if v not in best and any(
        (rel := _relation(prof[v], prof[w])) is not None and rel < SIMILAR for w in best[:SAMPLE])}
    if deep:
        # with them, in an open vocabulary, the words nothing sets apart -- but not leaf names
        # off their routes (`/images/prune` beside `/images/{name}/json`)
        routes = _union(prof[v] for v in best)
        family = best + ([v for v in order if v not in best and v not in unlike_best and (
            _onward(kids[v]) or _overlap(prof[v], routes) >= MIN_OVERLAP)] if openness >= OPEN else [])
        rivals = [v for v in order if _onward(kids[v])]
    elif openness >= OPEN:
        # nothing but openness speaks for them: programmers' names (`calendarFeedEnabled`) stay
        # literal, and so do names used under several of the parameter's values, when there are
        # several such (one value seen again under another is a coincidence)
        names = {v for v, k in kids.items() if k.recurring}
        family = [v for v in order if v not in unlike_best and not seg.is_identifier(v)
                  and not (len(names) >= 2 and v in names)]
        # and values share endpoints: words that each lead somewhere of their own
        # (`/billing/api/invoices`, `/users/api/profile`, `/orders/api/recent`) are names ...
        reached = [r for v in family for r in prof[v]]
        if len(set(reached)) == len(reached):
            return []
        # ... and a leaf must end as the members that lead on end, where they do: values are one kind
        # of resource, actions beside it are not (`POST /widgets/reindex` beside `DELETE /widgets/{name}`)
        ends = {k: r for v in family if _onward(kids[v]) for k, r in prof[v].items() if k.endswith(" ")}
        if ends:
            family = [v for v in family if _onward(kids[v]) or _overlap(prof[v], ends) >= MIN_OVERLAP]
        rivals = order
    else:
        return []
    return family if len(family) >= FAMILY_MIN and len(family) >= len(rivals) / 2 else []


def _items_of_listing(node: Node, words: list[str], prof: dict[str, Profile]) -> bool:
    """Are these words the items of the listing at `node`? Leaves only read (`GET`) below a listing
    (`GET /tags` answering a list, at the top or in its envelope: `data.[]`), whose answers are not
    views of it: no list of the listing's items (`GET /tags/react`: one tag, or what it tags). Leaves
    answering as the listing does are views of it (`/issues/assigned`, `/issues/mentioned`): names.
    Answers with nothing but the listing's keys (an empty page) say nothing either way."""
    answer = _answer(node.shapes.get("GET ", set()))
    lists = tuple(t + "." for t in answer if _is_list(t))
    if len(words) < FAMILY_MIN or not lists:
        return False
    listing = answer - _envelope.get()  # (compared as the leaves' answers are: `_profile`)
    items = {t for t in listing if t.startswith(lists)}
    unlike = 0
    for v in words:
        kid = node.literals[v]
        route = prof[v].get("GET ")
        if _onward(kid) or set(kid.ends) != {"GET"} or route is None:
            return False
        tokens = _answer(route.tokens)
        if tokens <= listing:
            continue
        if any(_is_list(t) and t + "." not in lists for t in tokens):
            return False  # a listing of its own (`/api/v1/pods` answering `items.[]` beside a discovery)
        theirs = {t for t in tokens if t.startswith(lists)}
        if theirs and items and len(theirs & items) >= CONTAINED * min(len(theirs), len(items)):
            return False  # a view of the listing
        unlike += 1
    return unlike >= FAMILY_MIN


def _is_list(token: str) -> bool:
    """A list at the top of an answer or in the first level of its envelope (`[]`, `data.[]`)."""
    return token == "[]" or (token.endswith(".[]") and token.count(".") == 1)


def _below(child: Node, pool: Node) -> frozenset[str]:
    """Where the segments right below `child` land in the consolidated trial pool: the names it
    kept, PARAM for values (`/repos/acme/web` and `/repos/zed/cli`: both PARAM)."""
    return frozenset(v if v in pool.literals else PARAM for v in child.literals) | (
        {PARAM} if child.param is not None else frozenset())


def _same_below(a: frozenset[str], b: frozenset[str]) -> bool:
    """Do two siblings lead on alike: to a name in common (values seldom see every endpoint below
    them: `/namespaces/default/{pods,services}`, `/namespaces/kube-system/{pods,leases}`), or both to
    values only? An API's own collections, whose answers may well be alike lists, lead to names none
    of the others has, or one to names and the other to values (`/me/albums`, `/me/projects` beside
    `/tags/{word}`)."""
    names_a, names_b = a - {PARAM}, b - {PARAM}
    if not names_a or not names_b:
        return not names_a and not names_b and a == b
    return not names_a.isdisjoint(names_b)


def _alike_mostly(words: list[str], prof: dict[str, Profile]) -> bool:
    """Do these words answer alike more often than not (pairs that can be compared)?"""
    alike = unlike = 0
    for i, v in enumerate(words):
        for w in words[i + 1:]:
            rel = _relation(prof[v], prof[w])
            if rel is not None:
                alike, unlike = (alike + 1, unlike) if rel >= SIMILAR else (alike, unlike + 1)
    return alike > unlike


def _onward(node: Node) -> bool:
    """Does the path go on below this segment?"""
    return bool(node.literals) or node.param is not None


def _names_collection(node: Node) -> bool:
    """A word whose traffic mostly goes on to detected ids (`/cards/{id}`) is a collection's name,
    not a value: REST paths alternate names and values."""
    param = node.param
    if param is None or not param.kinds or 2 * param.count < node.count:
        return False
    strong = sum(n for k, n in param.kinds.items() if seg.is_strong(k))
    return 2 * strong > sum(param.kinds.values())


# -- routes -------------------------------------------------------------------------------------

def _profile(sub: Node, pool: Node) -> Profile:
    """The endpoints below `sub`, keyed by their route through the (consolidated) `pool`."""
    out: Profile = {}
    _walk_routes(sub, pool, "", out, _envelope.get())
    return out


def _walk_routes(n: Node, p: Node | None, route: str, out: Profile, envelope: frozenset[str]) -> None:
    """`_profile`'s walk (a module function, not a closure: a recursive closure is a reference
    cycle per call, left for the cycle collector)."""
    for method, count in n.ends.items():
        r = out.setdefault(method + " " + route, Route())
        r.count += count
        r.tokens |= n.shapes.get(method + " ", set()) - envelope
    for v, c in n.literals.items():
        nxt = p.literals.get(v) if p is not None else None
        if nxt is not None:
            _walk_routes(c, nxt, route + "/" + v, out, envelope)
        elif p is not None and p.param is not None:
            _walk_routes(c, p.param, route + "/" + PARAM, out, envelope)
        else:
            _walk_routes(c, None, route + "/" + v, out, envelope)
    if n.param is not None:
        _walk_routes(n.param, p.param if p is not None else None, route + "/" + PARAM, out, envelope)


def _union(profiles) -> Profile:
    out: Profile = {}
    for p in profiles:
        for k, r in p.items():
            mine = out.setdefault(k, Route())
            mine.count += r.count
            mine.tokens |= r.tokens
    return out


def _relation(a: Profile, b: Profile) -> float | None:
    return _compare(a, b)[0]


def _compare(a: Profile, b: Profile, jaccard: bool = False) -> tuple[float | None, int]:
    """How alike the answers are on the routes both reach: the share of those routes where most of
    the smaller answer's tokens are found in the other's (samples of one schema with optional
    fields contain each other; two resources do not), and how many routes were compared. None
    when no shared route has answers of MIN_TOKENS tokens. Against a parameter's union of many
    answers, containment proves little: `jaccard` compares with the union instead."""
    alike = n = 0
    for k in a.keys() & b.keys():
        x, y = a[k].tokens, b[k].tokens
        smaller = min(len(x), len(y))
        if smaller >= MIN_TOKENS:
            n += 1
            alike += len(x & y) >= CONTAINED * (len(x | y) if jaccard else smaller)
        elif smaller:
            ax, ay = _answer(x), _answer(y)
            n += bool(ax and ay and ax.isdisjoint(ay))  # small, but nothing in common: unlike
            # (optional query keys vary from call to call: they do not count)
    return (alike / n if n else None), n


def _answer(tokens: set[str]) -> set[str]:
    """The tokens of the answer and request body, without the query's keys."""
    return {t for t in tokens if not t.startswith("?")}


def _beyond(a: Profile, b: Profile) -> bool:
    """Do the two reach an endpoint *below* them in common, with answers that say something
    (`/repos/acme/web/issues/{}`)? Alike there is more than two leaves answering alike."""
    return any(" /" in k and min(len(a[k].tokens), len(b[k].tokens)) >= MIN_TOKENS for k in a.keys() & b.keys())


def _overlap(a: Profile, b: Profile) -> float:
    """Share of `a`'s requests on routes that `b` also reaches."""
    total = sum(r.count for r in a.values())
    shared = sum(r.count for k, r in a.items() if k in b)
    return shared / total if total else 0.0
