// Chaos: activate profiles, create / edit / delete rules (form or YAML), keep the fire counts fresh.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const COUNTS_EVERY_MS = 3000;
  const form = $("rule-form");
  const yamlForm = $("yaml-form");

  function flash(message, isError) {
    const box = $("chaos-flash");
    box.textContent = message;
    box.classList.toggle("error", !!isError);
    box.classList.remove("hidden");
    box.scrollIntoView({ block: "nearest" });
  }

  async function act(call) {
    try {
      await call();
      location.reload();
    } catch (e) {
      flash(e.message, true);
    }
  }

  const rulesUrl = (profile, replaces) =>
    `/api/chaos/profiles/${encodeURIComponent(profile)}/rules` +
    (replaces ? `?replaces=${encodeURIComponent(replaces)}` : "");

  // -- activation -----------------------------------------------------------------------------------
  for (const button of document.querySelectorAll("button.activate")) {
    button.addEventListener("click", () =>
      act(() => mimic.api("PUT", "/api/chaos/active", { profile: button.dataset.profile })));
  }
  if ($("chaos-off")) {
    $("chaos-off").addEventListener("click", () => act(() => mimic.api("PUT", "/api/chaos/active", { profile: null })));
  }

  // -- the form ---------------------------------------------------------------------------------------
  function showAction() {
    for (const set of form.querySelectorAll("fieldset[data-action]")) {
      set.classList.toggle("hidden", set.dataset.action !== form.elements.action.value);
    }
  }
  form.elements.action.addEventListener("change", showAction);
  form.addEventListener("reset", () => {
    setTimeout(showAction);  // after the browser has put the defaults back
    form.elements.replaces.value = "";
  });

  const num = (name) => {
    const v = form.elements[name].value.trim();
    return v === "" ? undefined : Number(v);
  };

  function ruleFromForm() {
    const f = form.elements;
    const rule = { name: f.name.value.trim() };
    const match = {};
    if (f.path.value.trim()) match.path = f.path.value.trim();
    if (f.host.value.trim()) match.host = f.host.value.trim();
    const methods = f.method.value.split(/[\s,]+/).filter(Boolean).map((m) => m.toUpperCase());
    if (methods.length) match.method = methods;
    if (Object.keys(match).length) rule.match = match;
    const p = num("probability");
    if (p !== undefined && p !== 1) rule.probability = p;
    const action = f.action.value;
    if (action === "error") rule.error = { status: num("error_status") ?? 503 };
    if (action === "reset") rule.reset = {};
    if (action === "timeout") rule.timeout = { after_ms: num("timeout_after_ms") ?? 30000, then: f.timeout_then.value };
    if (action === "rate_limit") {
      rule.rate_limit = { rate: num("rate_rate") ?? 10 };
      if (num("rate_burst") !== undefined) rule.rate_limit.burst = num("rate_burst");
    }
    if (action === "latency") {
      const fixed = num("latency_fixed_ms");
      rule.latency = fixed !== undefined ? { fixed_ms: fixed }
        : { min_ms: num("latency_min_ms") ?? 0, max_ms: num("latency_max_ms") ?? 0 };
    }
    return rule;
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const profile = form.elements.profile.value.trim();
    act(() => mimic.api("POST", rulesUrl(profile, form.elements.replaces.value), ruleFromForm()));
  });

  yamlForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const profile = yamlForm.elements.profile.value.trim();
    act(() => mimic.api("POST", rulesUrl(profile, yamlForm.elements.replaces.value), { yaml: yamlForm.elements.yaml.value }));
  });

  // -- edit / delete --------------------------------------------------------------------------------------
  const FORM_ACTIONS = ["error", "latency", "reset", "timeout", "rate_limit"];

  function fillForm(profile, rule) {
    form.reset();
    const f = form.elements;
    f.profile.value = profile;
    f.replaces.value = rule.name;
    f.name.value = rule.name;
    const m = rule.match || {};
    f.path.value = m.path || "";
    f.host.value = m.host || "";
    f.method.value = [].concat(m.method || []).join(", ");
    f.probability.value = rule.probability ?? 1;
    const action = FORM_ACTIONS.find((a) => a in rule);
    f.action.value = action;
    const a = rule[action] || {};
    if (action === "error") f.error_status.value = a.status ?? 503;
    if (action === "timeout") { f.timeout_after_ms.value = a.after_ms ?? 30000; f.timeout_then.value = a.then || "504"; }
    if (action === "rate_limit") { f.rate_rate.value = a.rate ?? 10; f.rate_burst.value = a.burst ?? ""; }
    if (action === "latency") {
      f.latency_fixed_ms.value = a.fixed_ms ?? "";
      f.latency_min_ms.value = a.min_ms ?? "";
      f.latency_max_ms.value = a.max_ms ?? "";
    }
    setTimeout(showAction);
  }

  for (const button of document.querySelectorAll("button.edit")) {
    button.addEventListener("click", () => {
      const rule = JSON.parse(button.dataset.rule);
      const profile = button.dataset.profile;
      yamlForm.elements.profile.value = profile;
      yamlForm.elements.yaml.value = button.dataset.yaml;
      yamlForm.elements.replaces.value = rule.name;
      // the form knows the common actions and no burst / header scope; anything else is edited as YAML
      const simple = FORM_ACTIONS.some((a) => a in rule) && !rule.burst && !(rule.match && rule.match.header)
        && !(rule.latency && (rule.latency.learned || rule.latency.factor)) && !(rule.error && Object.keys(rule.error).some((k) => k !== "status"))
        && !(rule.rate_limit && rule.rate_limit.key);
      if (simple) {
        fillForm(profile, rule);
        form.scrollIntoView({ block: "nearest" });
      } else {
        yamlForm.scrollIntoView({ block: "nearest" });
      }
    });
  }

  for (const button of document.querySelectorAll("button.delete")) {
    button.addEventListener("click", () => {
      const { profile, name } = button.dataset;
      if (!confirm(`Delete rule ${name} from ${profile}?`)) return;
      act(() => mimic.api("DELETE", `/api/chaos/profiles/${encodeURIComponent(profile)}/rules/${encodeURIComponent(name)}`));
    });
  }

  // -- fire counts ------------------------------------------------------------------------------------
  function showCounts(view) {
    for (const cell of document.querySelectorAll("[data-fired]")) {
      cell.textContent = String(view.totals[cell.dataset.fired] || 0);
    }
    const rows = [];
    for (const rule of Object.keys(view.counts).sort()) {
      for (const label of Object.keys(view.counts[rule]).sort()) {
        rows.push(mimic.el("tr", {}, mimic.el("td", {}, mimic.el("code", {}, rule)),
          mimic.el("td", {}, mimic.el("code", {}, label)), mimic.el("td", {}, String(view.counts[rule][label]))));
      }
    }
    $("counts-body").replaceChildren(...rows);
    $("counts-empty").classList.toggle("hidden", rows.length > 0);
    $("counts-source").textContent = view.counts_live ? "From the running proxy." : "As saved to the store (every few seconds).";
  }

  const tick = async () => {
    try {
      showCounts(await mimic.api("GET", "/api/chaos"));
    } catch (e) {
      // try again at the next tick
    }
    setTimeout(tick, COUNTS_EVERY_MS);
  };
  setTimeout(tick, COUNTS_EVERY_MS);
  showAction();
})();
