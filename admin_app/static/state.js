// State: reset one scope's twin data, or everyone's, through the proxy.
"use strict";
(() => {
  function flash(message) {
    const box = document.getElementById("state-flash");
    box.textContent = message;
    box.classList.add("error");
    box.classList.remove("hidden");
  }

  async function reset(scope) {
    try {
      await mimic.api("POST", "/api/state/reset", { session: scope });
      location.reload();
    } catch (e) {
      flash(e.message);
    }
  }

  for (const button of document.querySelectorAll("button.reset-scope")) {
    button.addEventListener("click", () => reset(button.dataset.scope));
  }
  const all = document.getElementById("reset-all");
  if (all) {
    all.addEventListener("click", () => {
      if (confirm("Forget the twin state of every session and client?")) reset(null);
    });
  }
})();
