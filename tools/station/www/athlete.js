/* Athlete page: the athlete's trials over time from the index
 * (/api/v1/athletes/{id}/history), with a minimal-detectable-change band. */
"use strict";
(function () {
  const $ = nd.$;
  const enc = encodeURIComponent;
  const items = (b) => Array.isArray(b) ? b : (b && (b.items || b.trials || b.athletes || b.history)) || [];
  function fail(text) { $("page-msg").textContent = text; }

  /* MDC95 = 1.96 * sqrt(2) * SEM with SEM = SD of trial-to-trial differences / sqrt(2)
   * (STATION.md): a change of the max peak beyond the band exceeds measurement noise. */
  function mdc95(values) {
    const v = values.filter((x) => isFinite(x));
    if (v.length < 3) return null;
    const d = v.slice(1).map((x, i) => x - v[i]);
    const m = d.reduce((a, b) => a + b, 0) / d.length;
    const sd = Math.sqrt(d.reduce((a, b) => a + (b - m) * (b - m), 0) / (d.length - 1));
    return 1.96 * sd;
  }

  async function search(q) {
    const r = await nd.api("GET", "/api/v1/athletes" + (q ? "?q=" + enc(q) : ""));
    if (r.status === 404) { fail("The athlete registry is not available on this station."); return; }
    $("found").replaceChildren(...items(r.body).slice(0, 50).map((a) => nd.el("li", {},
      nd.el("button", { type: "button", onclick: () => { location.href = "athlete.html?id=" + enc(a.id ?? a.athlete_id); } },
        (a.display_name || a.id) + " · " + (a.id ?? a.athlete_id)))));
  }

  async function show(id) {
    const a = await nd.api("GET", "/api/v1/athletes/" + enc(id));
    const h = await nd.api("GET", "/api/v1/athletes/" + enc(id) + "/history");
    if (h.status === 404 && a.status === 404) { fail("Athlete " + id + " is not known to this station's index."); return; }
    const ath = a.body || {};
    $("a-id").textContent = ath.display_name ? ath.display_name + " (" + id + ")" : id;
    const meta = $("a-meta");
    meta.replaceChildren();
    for (const [k, v] of [["Body mass", ath.body_mass_kg ? ath.body_mass_kg + " kg" : "–"], ["Lever", ath.lever_m ? ath.lever_m + " m" : "–"],
      ["Injured side", ath.injured_side || "–"], ["Notes", ath.notes || "–"]]) meta.append(nd.el("dt", {}, k), nd.el("dd", {}, v));
    const trials = items(h.body).slice().sort((x, y) => String(x.created_utc).localeCompare(String(y.created_utc)));
    const time = trials.map((t) => Date.parse(t.created_utc) / 86400000);
    const S = (k) => trials.map((t) => (t.summary || {})[k] ?? null);
    const maxL = S("max_left_N"), maxR = S("max_right_N");
    const best = trials.map((t, i) => Math.max(maxL[i] ?? NaN, maxR[i] ?? NaN));
    const mdc = mdc95(best);
    const base = best.find((v) => isFinite(v));
    $("athlete-view").classList.remove("hidden"); /* the canvas needs its size before drawing */
    $("mdc-label").textContent = mdc ? "green band: first trial ± MDC95 (" + mdc.toFixed(0) + " N)" : "MDC band needs 3 trials";
    ndPlot($("a-plot"), {
      series: [{ x: time, y: maxL, color: "#1f6fd1", points: true }, { x: time, y: maxR, color: "#d9480f", points: true },
               { x: time, y: S("mean_left_N"), color: "#1f6fd1", dash: true, width: 1.5 }, { x: time, y: S("mean_right_N"), color: "#d9480f", dash: true, width: 1.5 }],
      band: mdc ? { y0: Math.max(0, base - mdc), y1: base + mdc } : null,
      xLabel: (d) => new Date(d * 86400000).toISOString().slice(0, 10), empty: "No trials yet",
    });
    $("a-trials").replaceChildren(...trials.slice().reverse().map((t) => {
      const s = t.summary || {};
      return nd.el("tr", { "data-trial": t.trial_id }, nd.el("td", {}, nd.el("a", { href: "trial.html?id=" + enc(t.trial_id) }, t.created_utc || t.trial_id)),
        nd.el("td", {}, String(s.reps ?? "–")), nd.el("td", {}, nd.fmt(s.max_left_N, 1) + " / " + nd.fmt(s.max_right_N, 1)),
        nd.el("td", {}, nd.fmt(s.mean_left_N, 1) + " / " + nd.fmt(s.mean_right_N, 1)), nd.el("td", {}, nd.asym(s.asymmetry_pct, s.weaker_side)),
        nd.el("td", {}, s.pain_rating >= 0 ? String(s.pain_rating) : "–"), nd.el("td", { class: "flags" }, nd.flagsOf(s).map((f) => nd.flagLabel(f, t.settings)).join(", ")));
    }));
    if (!trials.length) $("a-trials").append(nd.el("tr", {}, nd.el("td", { colSpan: 7, class: "empty" }, "No trials yet")));
    $("athlete-view").classList.remove("hidden");
  }

  async function main() {
    await nd.session();
    $("find-form").addEventListener("submit", (e) => { e.preventDefault(); search($("q").value.trim()); });
    const id = nd.param("id");
    if (id) { $("q").value = id; await show(id); } else await search("");
  }
  main();
})();
