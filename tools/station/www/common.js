/* Shared by the station pages: session (CSRF token), JSON fetches, formatting. */
"use strict";
window.nd = (function () {
  const nd = { csrf: "", auth: false, user: null };

  nd.$ = (id) => document.getElementById(id);
  nd.fmt = (v, digits) => (v === null || v === undefined || !isFinite(v)) ? "–" : Number(v).toFixed(digits);
  nd.param = (name) => new URLSearchParams(location.search).get(name);
  nd.text = (el, s) => { el.textContent = s; return el; };
  nd.el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
    }
    for (const k of kids) e.append(k);
    return e;
  };

  /* Loads the session; sends the page to the login when the station wants one. */
  nd.session = async function () {
    const r = await fetch("/auth/session", { credentials: "same-origin" });
    if (r.status === 401) {
      location.href = "login.html?next=" + encodeURIComponent(location.pathname + location.search);
      return new Promise(() => {});
    }
    const s = await r.json();
    nd.csrf = s.csrf || ""; nd.auth = !!s.auth; nd.user = s.user;
    const who = nd.$("who"), out = nd.$("logout");
    if (nd.auth && who) {
      who.textContent = "Signed in as " + s.user;
      out.classList.remove("hidden");
      out.addEventListener("click", async () => {
        await nd.api("POST", "/auth/logout", {});
        location.href = "login.html";
      });
    }
    return s;
  };

  /* JSON request; resolves to {status, body} (body null when not JSON). */
  nd.api = async function (method, path, body) {
    const init = { method, credentials: "same-origin", headers: {} };
    if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
    if (method !== "GET") init.headers["X-CSRF-Token"] = nd.csrf;
    const r = await fetch(path, init);
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return { status: r.status, body: data };
  };

  /* Flags of a summary: the live `trial` message has flags[], the index API
   * booleans weak_left/weak_right/imbalance/pain. */
  nd.flagsOf = function (s) {
    if (!s) return [];
    if (Array.isArray(s.flags)) return s.flags;
    return ["weak_left", "weak_right", "imbalance", "pain"].filter((k) => s[k] === true);
  };

  nd.flagLabel = function (flag, settings) {
    const weak = settings && isFinite(settings.weak_threshold_N) ? settings.weak_threshold_N : 256;
    const imbSetting = settings && (settings.imbalance_pct ?? settings.imbalance_threshold_pct);
    const imb = isFinite(imbSetting) ? imbSetting : 15;
    return ({ weak_left: "Weak left (< " + weak + " N)", weak_right: "Weak right (< " + weak + " N)",
              imbalance: "Imbalance (≥ " + imb + " %)", pain: "Pain > 3" })[flag] || flag;
  };

  nd.asym = function (pct, weaker) {
    if (pct === null || pct === undefined || !isFinite(pct)) return "–";
    return Math.abs(pct).toFixed(1) + " %" + (weaker && weaker !== "none" ? " " + weaker[0].toUpperCase() : "");
  };
  return nd;
})();
