"""ChaosAddon: scoped fault injection and rate limiting, in front of a real backend or mocks.

A thin adapter over `chaos_engine`: the `request` hook asks the engine for a plan, waits the
injected delay (an awaited sleep delays this flow only), then answers, drops the connection or
lets the request go on; the `response` hook adds RateLimit-* headers and throttles slow bodies.

Flow metadata tells the learner what happened (simple values, so flows stay serialisable):
`mimic_chaos` (rule names), `mimic_chaos_fault` (the answer is not the backend's: never
learned) and `mimic_chaos_delay_ms` (injected before the backend: subtracted from the latency
that is learned).

Profiles come from three places, later ones winning on a name clash: the built-ins, the store
(profiles made with `mimic.chaos.add`) and the `mimic_chaos_file` YAML file.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mitmproxy import command, ctx, exceptions, http

from ..learn.observation import host_key
from .chaos_engine import ChaosEngine, ChaosRequest, Counts, Plan, endpoint_view
from .chaos_rules import (BUILTIN_NAMES, ChaosError, Profile, builtin_profiles, load_yaml,
                          parse_profile, parse_rule, profile_to_dict, rule_to_dict)

logger = logging.getLogger(__name__)

HEADER = "X-Mimic-Chaos"
SOURCE = "X-Mimic-Source"
OFF = ("", "off", "none")
KEY_PROFILES, KEY_ACTIVE, KEY_COUNTS = "chaos.profiles", "chaos.active", "chaos.counts"
COUNTS_FLUSH_S = 5.0


class ChaosAddon:
    def __init__(self, brain: Callable[[], Any] = lambda: None, store: Callable[[], Any] = lambda: None) -> None:
        self._brain = brain
        self._store = store
        self.stored: dict[str, Profile] = {}
        self.from_file: dict[str, Profile] = {}
        self.file_active: str | None = None
        self.engine: ChaosEngine | None = None
        self.counts = Counts()
        self._counts_dirty = False
        self._store_seen: Any = None
        self._task: asyncio.Task | None = None

    # -- options ---------------------------------------------------------------------------------------
    def load(self, loader) -> None:
        loader.add_option("mimic_chaos_file", str, "",
                          "YAML file of chaos profiles (and optionally `active:`), e.g. for CI. "
                          "Its profiles are added to the built-in and stored ones.")
        loader.add_option("mimic_chaos_profile", str, "",
                          "Chaos profile active at start: flaky, slow, outage, rate-limited, mobile-3g, "
                          "observed, or one of your own; off for none. Empty: the file's `active:`, "
                          "else the last one activated (kept in the store).")

    def configure(self, updated: set[str]) -> None:
        store = self._store()
        reload_store = store is not self._store_seen
        if reload_store:
            self._save_counts()
            self._store_seen = store
            self.stored, self.counts = self._load_stored(store)
        if "mimic_chaos_file" in updated:
            self.from_file, self.file_active = {}, None
            path = ctx.options.mimic_chaos_file
            if path:
                try:
                    parsed = load_yaml(Path(path).expanduser().read_text(encoding="utf-8"))
                except (OSError, ChaosError) as e:
                    raise exceptions.OptionsError(f"mimic_chaos_file {path!r}: {e}") from None
                if parsed.active and parsed.active not in self.profiles():
                    if parsed.active not in parsed.profiles:
                        raise exceptions.OptionsError(f"mimic_chaos_file {path!r}: active profile "
                                                      f"{parsed.active!r} is not defined")
                self.from_file, self.file_active = parsed.profiles, parsed.active
        if reload_store or updated & {"mimic_chaos_file", "mimic_chaos_profile", "mimic_seed"}:
            name = ctx.options.mimic_chaos_profile
            remembered = not name and not self.file_active
            if not name:
                name = self.file_active or (store.get_setting(KEY_ACTIVE, "") if store is not None else "")
            elif "mimic_chaos_profile" in updated:
                self._put(KEY_ACTIVE, name)
            try:
                self._activate(name)
            except ChaosError as e:
                if not remembered:
                    raise exceptions.OptionsError(f"mimic_chaos_profile: {e}") from None
                logger.warning(f"Mimic chaos: the last active profile is gone, chaos is off: {e}")
                self.engine = None

    def profiles(self) -> dict[str, Profile]:
        return {**builtin_profiles(), **self.stored, **self.from_file}

    def _activate(self, name: str | None) -> None:
        if not name or name in OFF:
            self.engine = None
            return
        profile = self.profiles().get(name)
        if profile is None:
            raise ChaosError(f"no chaos profile {name!r} (known: {', '.join(sorted(self.profiles()))})")
        self.engine = ChaosEngine(profile, seed=ctx.options.mimic_seed)
        logger.info(f"Mimic chaos: profile {name!r} active ({len(profile.rules)} rules)")

    # -- hooks ----------------------------------------------------------------------------------------
    async def request(self, flow: http.HTTPFlow) -> None:
        engine = self.engine
        if engine is None or flow.response or flow.error or not flow.live:
            return
        req = flow.request
        host = host_key(req.scheme, req.host, req.port)
        path = req.path.split("?", 1)[0]
        peer = flow.client_conn.peername
        creq = ChaosRequest(host=host, method=req.method.upper(), path=path,
                            headers={k.lower(): v for k, v in req.headers.items()},
                            client=str(peer[0]) if peer else "")
        brain = self._brain()
        view = (lambda: endpoint_view(brain, host, creq.method, path)) if brain is not None else (lambda: None)
        plan = engine.decide(creq, view)
        if not plan:
            return
        self._mark(flow, plan)
        if plan.rules:
            v = view()
            label = f"{creq.method} {host}{v.template if v is not None else path}"
            for rule in plan.rules:
                self.counts.add(rule, label)
            self._counts_dirty = True
        if plan.delay_s > 0:
            await asyncio.sleep(plan.delay_s)
            if not flow.live or flow.error:
                return
        if plan.reset:
            flow.kill()
        elif plan.answer is not None:
            a = plan.answer
            flow.response = http.Response.make(a.status, a.body, dict(a.headers))
            flow.response.headers[HEADER] = ", ".join(plan.rules)
            flow.response.headers[SOURCE] = "chaos"  # (made here: neither the backend nor the model said it)

    async def response(self, flow: http.HTTPFlow) -> None:
        meta = flow.metadata
        if "mimic_chaos" not in meta or flow.response is None:
            return
        if not meta.get("mimic_chaos_fault"):
            for k, v in meta.get("mimic_chaos_headers", ()):
                flow.response.headers[k] = v
            if meta["mimic_chaos"]:
                flow.response.headers[HEADER] = meta["mimic_chaos"]
        bps = meta.get("mimic_chaos_bps")
        if bps:
            size = len(flow.response.raw_content or b"")
            if size:
                await asyncio.sleep(size / bps)

    @staticmethod
    def _mark(flow: http.HTTPFlow, plan: Plan) -> None:
        flow.metadata["mimic_chaos"] = ", ".join(plan.rules)
        if plan.fault:
            flow.metadata["mimic_chaos_fault"] = True
        if plan.delay_s:
            flow.metadata["mimic_chaos_delay_ms"] = plan.delay_s * 1000.0
        if plan.bytes_per_second:
            flow.metadata["mimic_chaos_bps"] = plan.bytes_per_second
        if plan.headers:
            flow.metadata["mimic_chaos_headers"] = [list(h) for h in plan.headers]

    def running(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flush_counts_loop())

    async def _flush_counts_loop(self) -> None:
        while True:
            await asyncio.sleep(COUNTS_FLUSH_S)
            try:
                await asyncio.to_thread(self._save_counts)
            except Exception:
                logger.exception("Mimic chaos: could not save fault counts")

    def done(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._save_counts()

    # -- persistence ------------------------------------------------------------------------------------
    @staticmethod
    def _load_stored(store: Any) -> tuple[dict[str, Profile], Counts]:
        if store is None:
            return {}, Counts()
        profiles = {}
        for name, spec in (store.get_setting(KEY_PROFILES) or {}).items():
            try:
                profiles[name] = parse_profile(name, _without_idle_latency(name, spec))
            except ChaosError as e:
                logger.warning(f"Mimic chaos: ignoring stored profile {name!r}: {e}")
        return profiles, Counts.from_dict(store.get_setting(KEY_COUNTS))

    def _put(self, key: str, value: Any) -> None:
        store = self._store()
        if store is None:
            return
        try:
            store.put_setting(key, value)
        except Exception as e:  # StoreError: keep running, say so
            logger.warning(f"Mimic chaos: could not save {key}: {e}")

    def _save_counts(self) -> None:
        if self._counts_dirty and self._store_seen is not None:
            self._counts_dirty = False
            try:
                self._store_seen.put_setting(KEY_COUNTS, self.counts.to_dict())
            except Exception as e:  # StoreError: retried at the next flush
                self._counts_dirty = True
                logger.warning(f"Mimic chaos: could not save fault counts: {e}")

    def _save_profiles(self) -> None:
        self._put(KEY_PROFILES, {n: profile_to_dict(p) for n, p in self.stored.items()})

    # -- commands ---------------------------------------------------------------------------------------
    @command.command("mimic.chaos.profile")
    def set_profile(self, name: str) -> None:
        """Activate a chaos profile by name (off: no chaos); remembered across restarts."""
        if name not in OFF and name not in self.profiles():
            raise exceptions.CommandError(f"no chaos profile {name!r} (known: {', '.join(sorted(self.profiles()))})")
        ctx.options.update(mimic_chaos_profile=name or "off")

    @command.command("mimic.chaos.profiles")
    def list_profiles(self) -> str:
        """Every chaos profile with its rules; * marks the active one."""
        active = self.engine.profile.name if self.engine else None
        lines = []
        for name, p in sorted(self.profiles().items()):
            origin = "built-in" if p.builtin else ("file" if name in self.from_file else "stored")
            mark = "*" if name == active else " "
            lines.append(f"{mark} {name} ({origin}, {len(p.rules)} rules): {p.description}".rstrip(": "))
        return "\n".join(lines)

    @command.command("mimic.chaos.rules")
    def list_rules(self) -> str:
        """The rules of the active chaos profile, one JSON object per line."""
        import json

        if self.engine is None:
            return "no chaos profile active"
        p = self.engine.profile
        return "\n".join([f"profile {p.name}"] + [json.dumps(rule_to_dict(r)) for r in p.rules])

    @command.command("mimic.chaos.add")
    def add_rule(self, profile: str, rule: str) -> None:
        """Add (or replace, by name) a rule in a stored profile, creating it. The rule is YAML/JSON,
        e.g. '{name: users-500, match: {path: /users/*}, probability: 0.1, error: {status: 500}}'."""
        import yaml

        if profile in BUILTIN_NAMES or profile in self.from_file:
            raise exceptions.CommandError(f"profile {profile!r} is {'built-in' if profile in BUILTIN_NAMES else 'from the chaos file'}; "
                                          "add rules to a profile of your own")
        try:
            spec = yaml.safe_load(rule)
            new = parse_rule(spec)
            old = self.stored.get(profile)
            rules = [r for r in (old.rules if old else ()) if r.name != new.name] + [new]
            self.stored[profile] = parse_profile(profile, {"description": old.description if old else "",
                                                           "rules": [rule_to_dict(r) for r in rules]})
        except (yaml.YAMLError, ChaosError) as e:
            raise exceptions.CommandError(f"invalid rule: {e}") from e
        self._save_profiles()
        self._refresh(profile)

    @command.command("mimic.chaos.remove")
    def remove_rule(self, profile: str, rule: str) -> None:
        """Remove a rule from a stored profile (the profile goes when its last rule does)."""
        old = self.stored.get(profile)
        if old is None or all(r.name != rule for r in old.rules):
            raise exceptions.CommandError(f"no rule {rule!r} in a stored profile {profile!r}")
        rules = tuple(r for r in old.rules if r.name != rule)
        if rules:
            self.stored[profile] = Profile(profile, rules, old.description)
        else:
            del self.stored[profile]
        self._save_profiles()
        self._refresh(profile)

    def _refresh(self, profile: str) -> None:
        active = self.engine is not None and self.engine.profile.name == profile
        if profile not in self.profiles() and (active or ctx.options.mimic_chaos_profile == profile):
            ctx.options.update(mimic_chaos_profile="off")  # the active profile is gone: chaos off, remembered
        elif active:
            self._activate(profile)

    @command.command("mimic.chaos.counts")
    def show_counts(self) -> str:
        """Faults injected so far, per rule and endpoint."""
        lines = []
        for rule, labels in self.counts.to_dict().items():
            lines.append(f"{rule}: {sum(labels.values())}")
            lines += [f"  {label}: {n}" for label, n in sorted(labels.items(), key=lambda x: -x[1])]
        return "\n".join(lines) or "no faults injected"


def _idle(rule: Any) -> bool:
    """A latency rule of 0 ms (what the form saved when left empty, before it was refused)."""
    latency = rule.get("latency") if isinstance(rule, dict) else None
    return isinstance(latency, dict) and (latency.get("fixed_ms") == 0 or latency.get("max_ms") == 0)


def _without_idle_latency(name: str, spec: Any) -> Any:
    """A stored profile without its 0 ms latency rules (told): they did nothing, and refusing them now
    would drop the whole profile with its other rules."""
    rules = spec.get("rules") if isinstance(spec, dict) else spec if isinstance(spec, list) else None
    if not isinstance(rules, list) or not any(_idle(r) for r in rules):
        return spec
    logger.warning(f"Mimic chaos: profile {name!r}: leaving out its latency rules of 0 ms (they delay nothing)")
    kept = [r for r in rules if not _idle(r)]
    return {**spec, "rules": kept} if isinstance(spec, dict) else kept

