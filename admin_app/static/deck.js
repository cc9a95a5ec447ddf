// Control deck: mode / target / chaos switches, status and health refresh, the live traffic stream.
// Everything from traffic is put into the page as text (mimic.el / textContent), never as markup.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const STATUS_EVERY_MS = 5000;
  const HEALTH_EVERY_MS = 10000;
  const RECONNECT_MAX_MS = 15000;

  function flash(message, isError) {
    const box = $("deck-flash");
    box.textContent = message;
    box.classList.toggle("error", !!isError);
    box.classList.remove("hidden");
  }

  async function act(call, done) {
    try {
      const result = await call();
      done(result);
    } catch (e) {
      flash(e.message, true);
    }
  }

  // -- switches ---------------------------------------------------------------------------------------
  $("mode-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const picked = ev.target.querySelector("input[name=mode]:checked");
    if (!picked) return;
    act(() => mimic.api("PUT", "/api/mode", { mode: picked.value }), (r) => {
      $("status-mode").textContent = r.mode;
      flash(`Mode is now ${r.mode}.`);
    });
  });

  function setTarget(url) {
    act(() => mimic.api("PUT", "/api/target", { url }), (r) => {
      $("status-target").textContent = r.target || "as started (--mode)";
      $("target-url").value = r.target;
      flash(r.target ? `Upstream requests now go to ${r.target}.` : "Back to the target of --mode.");
    });
  }
  $("target-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    setTarget($("target-url").value.trim());
  });
  $("target-clear").addEventListener("click", () => setTarget(""));

  $("chaos-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const profile = $("chaos-profile").value;
    act(() => mimic.api("PUT", "/api/chaos/active", { profile }), (r) => {
      $("status-chaos").textContent = r.active || "off";
      flash(r.active ? `Chaos profile ${r.active} is active.` : "Chaos is off.");
    });
  });

  // -- status and health ----------------------------------------------------------------------------
  function showStatus(s) {
    const proxy = $("status-proxy");
    proxy.textContent = s.proxy;
    proxy.className = "badge proxy-" + String(s.proxy).replace(/ /g, "-");
    $("status-mode").textContent = s.mode || "unknown";
    $("status-target").textContent = s.target || "as started (--mode)";
    const chaos = s.chaos_profile && !["off", "none"].includes(s.chaos_profile) ? s.chaos_profile : "off";
    $("status-chaos").textContent = chaos;
    for (const key of ["endpoints", "observed"]) {
      if ($("status-" + key) && s[key] !== undefined) $("status-" + key).textContent = s[key];
    }
  }

  function showHealth(h) {
    const band = String(h.status || h.band || "HEALTHY");
    const banner = $("health-banner");
    banner.className = "banner " + band.toLowerCase();
    banner.querySelector(".dot").className = "dot " + band.toLowerCase();
    $("health-score").textContent = Number(h.score).toFixed(1);
    $("health-status").textContent = band;
    const rows = h.endpoints || [];
    const counts = {};
    for (const e of rows) counts[e.status] = (counts[e.status] || 0) + 1;
    const total = h.total !== undefined ? h.total : rows.length;
    const parts = [`${total} endpoint${total === 1 ? "" : "s"}`];
    for (const k of Object.keys(h.counts || counts).sort()) parts.push(`${(h.counts || counts)[k]} ${k.toLowerCase()}`);
    $("health-counts").textContent = parts.join(" · ");
    const list = $("health-worst");
    list.replaceChildren(...rows.filter((e) => e.status !== "HEALTHY").slice(0, 5).map((e) =>
      mimic.el("li", {}, mimic.el("span", { class: "dot " + String(e.status).toLowerCase() }), " ",
        mimic.el("code", {}, `${e.method} ${e.host}${e.template}`), ` ${Number(e.score).toFixed(1)} — `,
        (e.reasons || []).join("; ") || String(e.status).toLowerCase())));
    list.classList.toggle("hidden", list.children.length === 0);
  }

  function poll(url, every, show) {
    const tick = async () => {
      try {
        show(await mimic.api("GET", url));
      } catch (e) {
        // the next tick tries again; the deck keeps what it showed
      }
      setTimeout(tick, every);
    };
    setTimeout(tick, every);
  }
  poll("/api/status", STATUS_EVERY_MS, showStatus);
  poll("/api/health?limit=5", HEALTH_EVERY_MS, showHealth);

  // -- live stream ------------------------------------------------------------------------------------
  const table = $("live-table");
  const body = $("live-rows");
  const keep = Number(table.dataset.keep) || 200;
  let paused = false;
  let missed = 0;
  let delay = 500;

  function fmtTime(ts) {
    const d = new Date(Number(ts) * 1000);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour12: false });
  }

  function row(ev) {
    const source = String(ev.source || "upstream");
    const band = ev.health ? String(ev.health).toLowerCase() : "unknown";
    const latency = ev.latency_ms == null ? "" : `${Math.round(Number(ev.latency_ms))} ms`;
    const status = ev.status == null ? "—" : String(ev.status);
    const tr = mimic.el("tr", { class: "live-row", "data-source": source, "data-id": ev.id == null ? "" : ev.id },
      mimic.el("td", { class: "muted" }, fmtTime(ev.ts)),
      mimic.el("td", { class: "method" }, ev.method),
      mimic.el("td", { class: "path" }, Number.isInteger(ev.id)
        ? mimic.el("a", { href: "/inspector/" + ev.id }, mimic.el("code", {}, ev.path))
        : mimic.el("code", {}, ev.path)),
      mimic.el("td", { class: "template" }, ev.template ? mimic.el("code", {}, ev.template) : ""),
      mimic.el("td", { class: "status status-" + status.charAt(0) + "xx" }, status),
      mimic.el("td", { class: "latency" }, latency),
      mimic.el("td", {}, mimic.el("span", { class: "badge source source-" + source.replace(/[^a-z0-9-]/gi, "") }, source)),
      mimic.el("td", {}, mimic.el("span", { class: "dot " + band.replace(/[^a-z]/g, ""), title: ev.health || "no health yet" })));
    if (ev.host) tr.title = `${ev.host}${ev.session ? " · session " + ev.session : ""}`;
    return tr;
  }

  function add(ev) {
    if (paused) {
      missed += 1;
      $("live-missed").textContent = `${missed} not shown while paused`;
      return;
    }
    body.prepend(row(ev));
    while (body.children.length > keep) body.lastElementChild.remove();
    $("live-empty").classList.add("hidden");
  }

  function setState(state) {
    const badge = $("live-state");
    badge.textContent = state;
    badge.dataset.state = state;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/ws/live`);
    setState("connecting");
    ws.addEventListener("open", () => { delay = 500; setState("live"); });
    ws.addEventListener("message", (msg) => {
      try {
        add(JSON.parse(msg.data));
      } catch (e) {
        // not an event: ignore it
      }
    });
    ws.addEventListener("close", () => {
      setState(`reconnecting in ${Math.round(delay / 1000)} s`);
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, RECONNECT_MAX_MS);
    });
  }

  $("live-pause").addEventListener("click", (ev) => {
    paused = !paused;
    ev.target.textContent = paused ? "Resume" : "Pause";
    ev.target.setAttribute("aria-pressed", String(paused));
    if (!paused) {
      missed = 0;
      $("live-missed").textContent = "";
    }
  });
  $("live-clear").addEventListener("click", () => {
    body.replaceChildren();
    $("live-empty").classList.remove("hidden");
  });

  connect();
})();
