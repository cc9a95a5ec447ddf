// Firebase sign-in on the login page: the JS SDK (static/vendor) signs the user in, this script sends the
// ID token to /auth/firebase with the page's CSRF token, and the server opens the session.
"use strict";
(() => {
  const box = document.getElementById("firebase-login");
  if (!box || !window.firebase) return;
  const status = document.getElementById("firebase-status");
  const show = (text, isError) => {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  };
  const app = firebase.initializeApp({
    apiKey: box.dataset.apiKey, authDomain: box.dataset.authDomain, projectId: box.dataset.projectId,
  }, "mimic-admin");
  const auth = app.auth();
  if (box.dataset.emulator) auth.useEmulator(box.dataset.emulator, { disableWarnings: true });
  // The server session is the session: the SDK keeps nothing in the browser.
  const ready = auth.setPersistence(firebase.auth.Auth.Persistence.NONE);

  async function finish(credential) {
    const idToken = await credential.user.getIdToken();
    const res = await fetch("/auth/firebase", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": mimic.csrf() },
      body: JSON.stringify({ id_token: idToken, next: box.dataset.next }),
    });
    const data = await res.json().catch(() => ({}));
    await auth.signOut();
    if (!res.ok) throw new Error(data.error || res.statusText);
    show("Signed in, opening " + data.next + " …");
    window.location.assign(data.next);
  }

  async function signIn(how) {
    show("Signing in …");
    try {
      await ready;
      await finish(await how());
    } catch (e) {
      show(e && e.message ? e.message : String(e), true);
    }
  }

  document.getElementById("firebase-email").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    signIn(() => auth.signInWithEmailAndPassword(form.elements.email.value, form.elements.password.value));
  });
  document.getElementById("firebase-google").addEventListener("click", () => {
    signIn(() => auth.signInWithPopup(new firebase.auth.GoogleAuthProvider()));
  });
})();
