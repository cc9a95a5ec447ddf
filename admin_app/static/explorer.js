// Explorer: list filters, and on an endpoint page the mode selector, drift resolution, the override
// editor with its live preview, and the types panel. Text from traffic only ever goes in via
// textContent (or mimic.el); nothing here builds HTML from strings.
"use strict";
(function () {
  function say(node, text, kind) {
    if (!node) return;
    node.textContent = text;
    node.classList.remove("error", "ok");
    if (kind) node.classList.add(kind);
  }

  // -- list page: filters apply at once ------------------------------------------------------------
  function initList() {
    const form = document.getElementById("explorer-search");
    if (!form) return;
    form.querySelectorAll("select.autosubmit").forEach((sel) => sel.addEventListener("change", () => form.submit()));
  }

  // -- endpoint page ---------------------------------------------------------------------------------
  function initEndpoint() {
    const root = document.getElementById("endpoint");
    if (!root) return;
    const id = root.dataset.endpointId;
    const base = `/api/endpoints/${encodeURIComponent(id)}`;
    initMode(base);
    initResolve();
    initOverride(base);
    initTypes(base);
  }

  function initMode(base) {
    const select = document.getElementById("mode-select");
    const msg = document.getElementById("mode-msg");
    if (!select) return;
    select.addEventListener("change", async () => {
      const mode = select.value;
      select.disabled = true;
      say(msg, "saving…");
      try {
        const res = await mimic.api("PUT", `${base}/mode`, { mode });
        select.dataset.current = mode;
        say(msg, res.applied === "store" ? res.message : (mode === "inherit" ? "follows the global mode" : `now ${mode}`), "ok");
      } catch (e) {
        select.value = select.dataset.current;
        say(msg, e.message, "error");
      } finally {
        select.disabled = false;
      }
    });
  }

  function initResolve() {
    document.querySelectorAll("article.alert button.resolve").forEach((button) => {
      button.addEventListener("click", async () => {
        const article = button.closest("article.alert");
        const msg = article.querySelector(".msg");
        const buttons = article.querySelectorAll("button.resolve");
        buttons.forEach((b) => { b.disabled = true; });
        say(msg, "resolving…");
        try {
          const resolution = button.dataset.resolution;
          const res = await mimic.api("POST", `/api/drift/${encodeURIComponent(article.dataset.alertId)}/resolve`, { resolution });
          article.classList.remove("open");
          article.classList.add("resolved");
          article.querySelector(".state").textContent = `resolved (${resolution})`;
          buttons.forEach((b) => b.remove());
          say(msg, res.applied === "store" ? res.message : "resolved", "ok");
        } catch (e) {
          buttons.forEach((b) => { b.disabled = false; });
          say(msg, e.message, "error");
        }
      });
    });
  }

  function initOverride(base) {
    const text = document.getElementById("override-text");
    const reqText = document.getElementById("override-request");
    const out = document.getElementById("preview-out");
    const meta = document.getElementById("preview-meta");
    const msg = document.getElementById("override-msg");
    const state = document.getElementById("override-state");
    const clear = document.getElementById("override-clear");
    const badge = document.getElementById("override-badge");
    if (!text) return;
    let timer = null;
    let seq = 0;

    function sampleRequest() {
      if (!reqText || !reqText.value.trim()) return undefined;
      return JSON.parse(reqText.value); // a syntax error is reported like a spec error
    }

    async function preview() {
      const mine = ++seq;
      let body;
      try {
        body = { text: text.value };
        const request = sampleRequest();
        if (request !== undefined) body.request = request;
      } catch (e) {
        out.classList.add("error");
        out.textContent = `sample request: ${e.message}`;
        meta.textContent = "";
        return;
      }
      try {
        const res = await mimic.api("POST", `${base}/override/preview`, body);
        if (mine !== seq) return; // a newer edit is being previewed
        out.classList.toggle("error", !res.ok);
        meta.textContent = `→ ${res.status} ${res.content_type}${res.variant ? " · " + res.variant : ""}`;
        out.textContent = mimic.visible(res.ok ? pretty(res.body, res.content_type) : `template error: ${res.error}\n\n${res.body}`);
      } catch (e) {
        if (mine !== seq) return;
        out.classList.add("error");
        meta.textContent = "";
        out.textContent = e.message;
      }
    }

    function pretty(body, type) {
      if (!/json/.test(type || "")) return body;
      try { return JSON.stringify(JSON.parse(body), null, 2); } catch (e) { return body; }
    }

    const schedule = () => { clearTimeout(timer); timer = setTimeout(preview, 300); };
    text.addEventListener("input", schedule);
    if (reqText) reqText.addEventListener("input", schedule);
    document.getElementById("override-preview").addEventListener("click", preview);

    document.getElementById("override-save").addEventListener("click", async () => {
      say(msg, "saving…");
      try {
        const res = await mimic.api("PUT", `${base}/override`, { text: text.value });
        state.textContent = "set";
        clear.disabled = false;
        if (badge) badge.hidden = false;
        say(msg, res.applied === "store" ? res.message : `saved: ${res.key} now answers from this override`, "ok");
      } catch (e) {
        say(msg, e.message, "error");
      }
    });

    clear.addEventListener("click", async () => {
      say(msg, "clearing…");
      try {
        const res = await mimic.api("DELETE", `${base}/override`);
        state.textContent = "none (the learned model answers)";
        clear.disabled = true;
        if (badge) badge.hidden = true;
        say(msg, res.applied === "store" ? res.message : "cleared", "ok");
      } catch (e) {
        say(msg, e.message, "error");
      }
    });

    preview();
  }

  function initTypes(base) {
    const out = document.getElementById("types-out");
    const download = document.getElementById("types-download");
    const msg = document.getElementById("types-msg");
    if (!out) return;
    const cache = { jsonschema: out.textContent };
    document.querySelectorAll(".tabs .tab").forEach((tab) => {
      tab.addEventListener("click", async () => {
        const kind = tab.dataset.kind;
        document.querySelectorAll(".tabs .tab").forEach((t) => {
          t.classList.toggle("selected", t === tab);
          t.setAttribute("aria-selected", t === tab ? "true" : "false");
        });
        download.href = `${base}/types/${kind}?download=1`;
        if (cache[kind] === undefined) {
          say(msg, "generating…");
          try {
            const res = await fetch(`${base}/types/${kind}`, { credentials: "same-origin" });
            const body = await res.text();
            if (!res.ok) {
              let error = body;
              try { error = JSON.parse(body).error || body; } catch (e) { /* plain text */ }
              throw new Error(error);
            }
            cache[kind] = body;
            say(msg, "");
          } catch (e) {
            say(msg, e.message, "error");
            return;
          }
        }
        out.textContent = mimic.visible(cache[kind]);
      });
    });
    document.getElementById("types-copy").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(out.textContent);
        say(msg, "copied", "ok");
      } catch (e) {
        // no clipboard permission (plain http, old browser): select the text for Ctrl+C instead
        const range = document.createRange();
        range.selectNodeContents(out);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        say(msg, "selected: press Ctrl+C to copy");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => { initList(); initEndpoint(); });
})();
