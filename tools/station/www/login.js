/* Sign-in form: POST /auth/login, then back to the page that asked. */
"use strict";
document.getElementById("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const msg = document.getElementById("login-msg");
  msg.textContent = "";
  const r = await fetch("/auth/login", {
    method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: document.getElementById("user").value, password: document.getElementById("password").value }),
  });
  let body = {};
  try { body = await r.json(); } catch (err) { body = {}; }
  if (r.ok) {
    const next = new URLSearchParams(location.search).get("next") || "";
    /* Only a path on this station: never an absolute URL from the query string. */
    location.href = /^\/[A-Za-z0-9_-]*\.html(\?[^\s]*)?$/.test(next) ? next : "station.html";
  } else {
    msg.textContent = body.error || ("Sign-in failed (HTTP " + r.status + ")");
  }
});
