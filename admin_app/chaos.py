"""Chaos: profiles and rules (create, edit, delete), activation, and how often each rule fired.

What lives where (mimic_addon/serve/chaos_addon.py): built-in profiles are code; profiles made with
`mimic.chaos.add` are in the store (setting `chaos.profiles`); profiles of the `mimic_chaos_file`
exist only in the proxy; fire counts are saved to the store every few seconds (`chaos.counts`).
So when a proxy is running this section asks it (`mimic.chaos.profiles`, `.rules`, `.counts`) and
otherwise shows what the store has. Every change goes through the proxy's commands, after the rule
was validated here with the proxy's own parser (a 400 carries the parser's message).
"""
from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mimic_addon.serve.chaos_addon import KEY_ACTIVE, KEY_COUNTS, KEY_PROFILES, OFF
from mimic_addon.serve.chaos_rules import (
    BUILTIN_NAMES,
    ChaosError,
    Profile,
    Rule,
    builtin_profiles,
    parse_profile,
    parse_rule,
    rule_to_dict,
)

from .api_util import (
    ApiError,
    json_api,
    page_context,
    read_json,
    read_object,
    run_command,
)
from .context import AdminContext
from .control import ControlError
from .deck import proxy_status

_LISTING = re.compile(r"^([* ]) (\S+) \((built-in|file|stored), (\d+) rules\)(?:: (.*))?$")
ORIGINS = ("stored", "file", "built-in")  # the order the page lists them: yours first


# -- reading ------------------------------------------------------------------------------------------------
def parse_listing(text: str) -> list[dict[str, Any]]:
    """`mimic.chaos.profiles` output -> [{name, origin, rule_count, description, active}]."""
    out = []
    for line in text.splitlines():
        m = _LISTING.match(line)
        if m:
            out.append({"name": m.group(2), "origin": m.group(3), "rule_count": int(m.group(4)),
                        "description": m.group(5) or "", "active": m.group(1) == "*"})
    return out


def parse_counts(text: str) -> dict[str, dict[str, int]]:
    """`mimic.chaos.counts` output ("rule: N" then "  METHOD host/template: n" lines) -> {rule: {label: n}}."""
    out: dict[str, dict[str, int]] = {}
    rule = None
    for line in text.splitlines():
        head, sep, n = line.rpartition(": ")
        if not sep or not n.strip().isdigit():
            continue
        if line.startswith("  "):
            if rule is not None:
                out[rule][head.strip()] = int(n)
        else:
            rule = head.strip()
            out[rule] = {}
    return out


def parse_active_rules(text: str) -> tuple[str | None, list[dict[str, Any]]]:
    """`mimic.chaos.rules` output ("profile NAME" then one JSON rule a line) -> (name, rules)."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("profile "):
        return None, []
    rules = []
    for line in lines[1:]:
        try:
            rules.append(json.loads(line))
        except ValueError:
            continue
    return lines[0][len("profile "):].strip(), rules


def stored_profiles(store: Any) -> dict[str, Profile]:
    profiles = {}
    for name, spec in (store.get_setting(KEY_PROFILES) or {}).items():
        try:
            profiles[name] = parse_profile(name, spec)
        except ChaosError:
            continue  # the proxy ignores it too (and says so in its log)
    return profiles


def _active_name(value: Any) -> str | None:
    return None if not value or value in OFF else str(value)


async def _ask(ctx: AdminContext, command: str) -> str | None:
    try:
        return await ctx.control.call(command)
    except ControlError:
        return None


async def chaos_view(ctx: AdminContext) -> dict[str, Any]:
    """Profiles (with rules where known), the active one, and fire counts: the proxy's if it answers,
    else the store's."""
    status = await proxy_status(ctx)
    stored = await asyncio.to_thread(stored_profiles, ctx.store)
    saved_counts, saved_active = await asyncio.to_thread(
        lambda: (ctx.store.get_setting(KEY_COUNTS) or {}, ctx.store.get_setting(KEY_ACTIVE, "")))
    listing_text = counts_text = rules_text = None
    if status.get("alive"):
        listing_text, counts_text, rules_text = await asyncio.gather(
            _ask(ctx, "mimic.chaos.profiles"), _ask(ctx, "mimic.chaos.counts"), _ask(ctx, "mimic.chaos.rules"))
    listing = parse_listing(listing_text or "")
    active_rules_of, active_rules = parse_active_rules(rules_text or "")

    profiles: dict[str, dict[str, Any]] = {}
    for p in builtin_profiles().values():
        profiles[p.name] = _profile_dict(p, "built-in")
    for p in stored.values():
        profiles[p.name] = _profile_dict(p, "stored")
    for item in listing:
        if item["origin"] == "file":
            rules = active_rules if item["name"] == active_rules_of else None
            profiles[item["name"]] = {"name": item["name"], "origin": "file", "description": item["description"],
                                      "rules": rules, "rule_count": item["rule_count"], "editable": False}
    if listing:
        active = next((i["name"] for i in listing if i["active"]), None)
    else:
        active = _active_name(status.get("chaos_profile") if status.get("alive") else saved_active)
    counts = parse_counts(counts_text) if counts_text is not None else saved_counts
    ordered = sorted(profiles.values(), key=lambda p: (ORIGINS.index(p["origin"]), p["name"]))
    return {"active": active, "profiles": ordered, "counts": counts,
            "totals": {rule: sum(labels.values()) for rule, labels in counts.items()},
            "counts_live": counts_text is not None, "proxy": status.get("proxy")}


def _profile_dict(p: Profile, origin: str) -> dict[str, Any]:
    return {"name": p.name, "origin": origin, "description": p.description,
            "rules": [rule_to_dict(r) for r in p.rules], "rule_count": len(p.rules), "editable": origin == "stored"}


async def profile_names(ctx: AdminContext, status: dict[str, Any] | None = None) -> list[str]:
    """Every profile the active-profile selects offer: built-in, stored, then the chaos file's."""
    status = status if status is not None else await proxy_status(ctx)
    names = sorted(BUILTIN_NAMES) + sorted(await asyncio.to_thread(stored_profiles, ctx.store))
    if status.get("alive"):
        listing = parse_listing(await _ask(ctx, "mimic.chaos.profiles") or "")
        names += sorted(i["name"] for i in listing if i["name"] not in names)
    return names


# -- presenting -------------------------------------------------------------------------------------------
def action_text(rule: dict[str, Any]) -> str:
    """One line for a rule's action ("error 503", "latency 0-200 ms", ...)."""
    for kind in ("latency", "error", "reset", "timeout", "rate_limit", "slow_body", "observed"):
        if kind not in rule:
            continue
        a = rule[kind] or {}
        if kind == "latency":
            if "fixed_ms" in a:
                text = f"latency {a['fixed_ms']:g} ms"
            elif "learned" in a:
                text = f"latency learned {a['learned']}"
            else:
                text = f"latency {a.get('min_ms', 0):g}-{a.get('max_ms', 0):g} ms"
            return text + (f" x{a['factor']:g}" if a.get("factor", 1) != 1 else "")
        if kind == "error":
            return f"error {a.get('status', 503)}"
        if kind == "timeout":
            return f"timeout after {a.get('after_ms', 30000):g} ms, then {a.get('then', '504')}"
        if kind == "rate_limit":
            return (f"rate limit {a.get('rate', 10):g}/s, burst {a.get('burst', max(1, int(a.get('rate', 10))))}, "
                    f"per {a.get('key', 'client')}")
        if kind == "slow_body":
            return f"slow body {a.get('bytes_per_second', 50_000)} B/s"
        if kind == "observed":
            return f"observed failures x{a.get('factor', 1):g}"
        return kind
    return "?"


def match_text(rule: dict[str, Any]) -> str:
    m = rule.get("match") or {}
    parts = []
    if m.get("method"):
        parts.append(",".join(m["method"]) if isinstance(m["method"], list) else str(m["method"]))
    if m.get("host"):
        parts.append(str(m["host"]))
    parts.append(str(m.get("path") or "any path"))
    if m.get("header"):
        parts.append(" ".join(f"{k}: {v}" for k, v in m["header"].items()))
    return " ".join(parts)


def rule_yaml(rule: dict[str, Any]) -> str:
    return yaml.safe_dump(rule, sort_keys=False, allow_unicode=True, default_flow_style=False)


# -- validating -------------------------------------------------------------------------------------------
def check_profile_name(name: str) -> None:
    try:
        parse_profile(name, {"rules": []})
    except ChaosError as e:
        raise ApiError(400, str(e)) from None
    if name in BUILTIN_NAMES:
        raise ApiError(400, f"profile {name!r} is built-in: add rules to a profile of your own")


def rule_from_text(text: str) -> Rule:
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ApiError(400, f"not valid YAML: {e}") from None
    return rule_from_spec(spec)


def rule_from_spec(spec: Any) -> Rule:
    try:
        return parse_rule(spec)
    except ChaosError as e:
        raise ApiError(400, str(e)) from None


async def rule_from_request(request: Request) -> Rule:
    """A rule as JSON (the rule object, or {"yaml": text}) or as YAML text (any non-JSON content type)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype.endswith("json") or not ctype:
        body = await read_json(request)
        if isinstance(body, dict) and set(body) == {"yaml"}:
            if not isinstance(body["yaml"], str):
                raise ApiError(400, "yaml must be a string")
            return rule_from_text(body["yaml"])
        return rule_from_spec(body)
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the rule must be UTF-8 text") from None
    return rule_from_text(text)


# -- routes -----------------------------------------------------------------------------------------------
def page_routes(ctx: AdminContext) -> list[BaseRoute]:
    async def chaos_page(request: Request) -> Response:
        view = await chaos_view(ctx)
        for p in view["profiles"]:
            for r in p["rules"] or []:
                r["_yaml"] = rule_yaml({k: v for k, v in r.items() if not k.startswith("_")})
                r["_action"] = action_text(r)
                r["_match"] = match_text(r)
                r["_json"] = json.dumps({k: v for k, v in r.items() if not k.startswith("_")})
        stored = [p["name"] for p in view["profiles"] if p["origin"] == "stored"]
        return ctx.templates.TemplateResponse(request, "chaos.html", page_context(
            request, "chaos", view=view, stored=stored))

    return [Route("/chaos", chaos_page, name="chaos")]


def api_routes(ctx: AdminContext) -> list[BaseRoute]:
    @json_api
    async def get_chaos(request: Request) -> Response:
        """Chaos profiles, their rules, the active profile and the fire counts.
        ---
        summary: Chaos profiles, rules and fire counts
        description: Profiles are built-in, stored (made here or with mimic.chaos.add) or from the
          proxy's chaos file (whose rules are known only while active). Counts are per rule and
          endpoint; counts_live says whether they come from the running proxy or from the store
          (saved every few seconds).
        tags: [chaos]
        responses:
          200:
            description: "{active, profiles: [{name, origin, description, rules, rule_count, editable}],
              counts: {rule: {endpoint: n}}, totals: {rule: n}, counts_live, proxy}"
        """
        return JSONResponse(await chaos_view(ctx))

    @json_api
    async def add_rule(request: Request) -> Response:
        """Create a rule in a stored profile, or replace the rule of the same name.
        ---
        summary: Create or replace a chaos rule
        description: The body is the rule as JSON, {"yaml" rule-text} as JSON, or the rule as YAML text
          (Content-Type application/yaml). The profile is created when new. With ?replaces=OLD, the
          rule OLD is removed once the new one is in (renaming a rule).
        tags: [chaos]
        parameters:
          - {name: profile, in: path, required: true, schema: {type: string}}
          - {name: replaces, in: query, required: false, schema: {type: string}}
        requestBody:
          required: true
          content:
            application/json:
              schema: {type: object, example: {name: users-500, match: {path: "/users/*"}, probability: 0.1,
                                               error: {status: 500}}}
            application/yaml:
              schema: {type: string}
        responses:
          201: {description: "{profile, rule}: the rule as stored"}
          400: {description: "invalid rule or profile name (the parser's message)"}
          409: {description: "the proxy refused (e.g. a profile from the chaos file)"}
          503: {description: "no proxy is running on this store"}
        """
        profile = request.path_params["profile"]
        check_profile_name(profile)
        rule = await rule_from_request(request)
        spec = rule_to_dict(rule)
        await run_command(ctx, "mimic.chaos.add", profile, json.dumps(spec))
        replaces = request.query_params.get("replaces")
        if replaces and replaces != rule.name:
            await run_command(ctx, "mimic.chaos.remove", profile, replaces)
        return JSONResponse({"profile": profile, "rule": spec}, status_code=201)

    @json_api
    async def delete_rule(request: Request) -> Response:
        """Delete a rule of a stored profile (the profile goes with its last rule).
        ---
        summary: Delete a chaos rule
        tags: [chaos]
        parameters:
          - {name: profile, in: path, required: true, schema: {type: string}}
          - {name: rule, in: path, required: true, schema: {type: string}}
        responses:
          200: {description: "{profile, deleted}"}
          404: {description: "no such rule in a stored profile"}
          409: {description: "the proxy refused"}
          503: {description: "no proxy is running on this store"}
        """
        profile, rule = request.path_params["profile"], request.path_params["rule"]
        stored = await asyncio.to_thread(stored_profiles, ctx.store)
        if profile not in stored or all(r.name != rule for r in stored[profile].rules):
            raise ApiError(404, f"no rule {rule!r} in a stored profile {profile!r}")
        await run_command(ctx, "mimic.chaos.remove", profile, rule)
        return JSONResponse({"profile": profile, "deleted": rule})

    @json_api
    async def put_active(request: Request) -> Response:
        """Activate a chaos profile, or switch chaos off.
        ---
        summary: Set the active chaos profile
        tags: [chaos, deck]
        requestBody:
          required: true
          content:
            application/json:
              schema:
                type: object
                properties:
                  profile: {type: [string, "null"], description: "a profile name; null or off for none"}
        responses:
          200: {description: "{active}: the profile now active, null for none"}
          400: {description: "no such profile"}
          409: {description: "the proxy refused"}
          503: {description: "no proxy is running on this store"}
        """
        name = (await read_object(request)).get("profile")
        if name is not None and not isinstance(name, str):
            raise ApiError(400, "profile must be a name or null")
        active = _active_name(name)
        if active is not None:
            known = await profile_names(ctx)
            if active not in known:
                raise ApiError(400, f"no chaos profile {active!r} (known: {', '.join(sorted(known))})")
        await run_command(ctx, "mimic.chaos.profile", active or "off")
        return JSONResponse({"active": active})

    return [Route("/chaos", get_chaos, methods=["GET"]),
            Route("/chaos/profiles/{profile}/rules", add_rule, methods=["POST"]),
            Route("/chaos/profiles/{profile}/rules/{rule}", delete_rule, methods=["DELETE"]),
            Route("/chaos/active", put_active, methods=["PUT"])]
