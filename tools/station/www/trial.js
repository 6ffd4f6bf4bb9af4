/* Trial page: one trial from the index (/api/v1/trials/{id}), or the list. */
"use strict";
(function () {
  const $ = nd.$;
  const enc = encodeURIComponent;

  function fail(text) { $("page-msg").textContent = text; }
  function kv(dl, pairs) {
    dl.replaceChildren();
    for (const [k, v] of pairs) dl.append(nd.el("dt", {}, k), nd.el("dd", {}, v === null || v === undefined || v === "" ? "–" : String(v)));
  }
  const items = (b) => Array.isArray(b) ? b : (b && (b.items || b.trials || b.athletes)) || [];

  async function list() {
    const r = await nd.api("GET", "/api/v1/trials?limit=100");
    if (r.status === 404) { fail("The trial index is not available on this station."); return; }
    if (r.status !== 200) { fail("Could not load trials: " + (r.body && r.body.error || "HTTP " + r.status)); return; }
    const rows = items(r.body).map((t) => {
      const s = t.summary || {};
      return nd.el("tr", {}, nd.el("td", {}, nd.el("a", { href: "trial.html?id=" + enc(t.trial_id) }, t.trial_id)),
        nd.el("td", {}, nd.el("a", { href: "athlete.html?id=" + enc(t.athlete_id) }, t.athlete_id || "–")),
        nd.el("td", {}, t.created_utc || "–"), nd.el("td", {}, String(s.reps ?? "–")),
        nd.el("td", {}, nd.fmt(s.max_left_N, 1) + " / " + nd.fmt(s.max_right_N, 1)),
        nd.el("td", { class: "flags" }, nd.flagsOf(s).map((f) => nd.flagLabel(f, t.settings)).join(", ")));
    });
    $("trial-rows").replaceChildren(...rows);
    if (!rows.length) $("trial-rows").append(nd.el("tr", {}, nd.el("td", { colSpan: 6, class: "empty" }, "No trials recorded yet")));
    $("list-card").classList.remove("hidden");
  }

  async function one(id) {
    const base = "/api/v1/trials/" + enc(id);
    const r = await nd.api("GET", base);
    if (r.status === 404) { fail("Trial " + id + " is not in this station's index."); return; }
    if (r.status !== 200) { fail("Could not load trial " + id + ": " + (r.body && r.body.error || "HTTP " + r.status)); return; }
    const t = r.body, s = t.summary || {}, settings = t.settings || {}, meta = t.metadata || {};
    $("t-id").textContent = t.trial_id || id;
    const duration = t.samples && t.sample_rate_hz ? t.samples / t.sample_rate_hz : null;
    kv($("t-meta"), [...(t.station_id ? [["Station", t.station_id]] : []), ["Athlete", t.athlete_id], ["Recorded (UTC)", t.created_utc], ["Duration", nd.fmt(duration, 1) + " s"],
      ["Status", t.status], ["Protocol", t.protocol], ["Board", [meta.device_model, meta.device_serial].filter(Boolean).join(" ")],
      ["Body mass", isFinite(settings.body_mass_kg) ? settings.body_mass_kg + " kg" : null],
      ["Lever", isFinite(settings.lever_m) ? settings.lever_m + " m" : null], ["Injured side", settings.injured_side],
      ["Reps", s.reps], ["Max L / R", nd.fmt(s.max_left_N, 1) + " / " + nd.fmt(s.max_right_N, 1) + " N"],
      ["Mean L / R", nd.fmt(s.mean_left_N, 1) + " / " + nd.fmt(s.mean_right_N, 1) + " N"], ["Asymmetry", nd.asym(s.asymmetry_pct, s.weaker_side)],
      ["Pain", s.pain_rating >= 0 ? s.pain_rating + "/10" : null], ["Notes", meta.notes], ["File", t.file_name]]);
    $("t-flags").replaceChildren(...nd.flagsOf(s).map((f) => nd.el("span", { class: "flag", "data-flag": f }, nd.flagLabel(f, settings))));
    $("t-downloads").replaceChildren(nd.el("a", { href: base + "/file", download: "" }, "Download HDF5"),
      nd.el("a", { href: base + "/trace?format=csv", download: "" }, "Download CSV"));
    const reps = t.reps || [];
    $("t-reps").replaceChildren(...reps.map((p) => nd.el("tr", { "data-index": String(p.index) }, nd.el("td", {}, String(p.index)),
      nd.el("td", {}, nd.fmt(p.peak_left_N, 1)), nd.el("td", {}, nd.fmt(p.peak_right_N, 1)),
      nd.el("td", {}, nd.asym(p.asymmetry_pct, null)), nd.el("td", {}, p.weaker_side || "–"),
      nd.el("td", {}, nd.fmt(p.torque_left_Nm, 1) + " / " + nd.fmt(p.torque_right_Nm, 1)), nd.el("td", {}, nd.fmt(p.duration_s ?? p.t_end_s - p.t_open_s, 2)))));
    $("t-events").replaceChildren(...(t.events || []).map((e) => nd.el("tr", { "data-kind": e.kind }, nd.el("td", {}, nd.fmt(e.t_s, 2)),
      nd.el("td", {}, e.kind), nd.el("td", { class: "flags" }, e.detail || ""))));
    kv($("t-settings"), Object.entries(settings));
    nextDayPain(t.trial_id || id, t.station_id);
    $("trial-view").classList.remove("hidden");
    const samples = t.samples || 0;
    const dec = Math.max(1, Math.ceil(samples / 4000));
    const tr = await nd.api("GET", base + "/trace?format=json&decimate=" + dec);
    const tb = tr.body || {};
    const x = tb.t_s || [];
    const col = (c) => (tb.force_N || []).map((row) => (row && c !== undefined ? row[c] : null));
    const left = col(tb.left_channel), right = col(tb.right_channel);
    ndPlot($("t-plot"), {
      series: [{ x, y: left, color: "#1f6fd1" }, { x, y: right, color: "#d9480f" }],
      spans: reps.map((p) => ({ x0: p.t_open_s, x1: p.t_end_s, label: String(p.index) })),
      empty: tr.status === 200 ? "No samples" : "Force trace not available",
    });
  }

  /* ---- next-day pain: the station's WebSocket carries next_day_pain to the
   * nordicd that recorded the trial (ZMQ_PROTOCOL.md, METRICS.md 5.6) ---- */
  function wsCommand(board, cmd) {
    return new Promise((resolve) => {
      const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
      let ws, done = false;
      const end = (r) => { if (done) return; done = true; resolve(r); if (ws) ws.close(); };
      try { ws = new WebSocket(url, "nordic-station"); } catch (e) { end({ ok: false, error: "cannot reach the station" }); return; }
      const timer = setTimeout(() => end({ ok: false, error: "no answer from the station within 10 s" }), 10000);
      ws.onopen = () => ws.send(JSON.stringify({ type: "cmd", id: 1, daemon: board, csrf: nd.csrf, cmd }));
      ws.onmessage = (ev) => {
        let m; try { m = JSON.parse(ev.data); } catch (e) { return; }
        if (m.type === "reply" && m.id === 1) { clearTimeout(timer); end(m.reply); }
        else if (m.type === "error") { clearTimeout(timer); end({ ok: false, error: "station: " + m.error }); }
      };
      ws.onclose = () => { clearTimeout(timer); end({ ok: false, error: "connection to the station lost" }); };
    });
  }

  async function nextDayPain(trialId, stationId) {
    const r = await nd.api("GET", "/api/v1/status");
    const names = (r.body && r.body.daemons || []).map((d) => d.name);
    const sel = $("ndp-board");
    sel.replaceChildren(...names.map((n) => nd.el("option", { value: n }, n)));
    if (stationId && names.includes(stationId)) sel.value = stationId;
    if (!names.length) { $("ndp-send").disabled = true; $("ndp-msg").textContent = "No board is connected to this station."; }
    const msg = (text, kind) => { $("ndp-msg").textContent = text; $("ndp-msg").className = "message" + (kind ? " " + kind : ""); };
    const send = async () => {
      const raw = $("ndp-value").value.trim(), v = Number(raw);
      if (raw === "" || !Number.isInteger(v) || v < 0 || v > 10) { msg("Enter a whole number from 0 to 10.", "bad"); $("ndp-value").focus(); return; }
      const cmd = { cmd: "next_day_pain", trial_id: trialId, value: v };
      const note = $("ndp-note").value.trim();
      if (note) cmd.detail = note;
      $("ndp-send").disabled = true;
      msg("Sending…");
      const rep = await wsCommand(sel.value, cmd);
      $("ndp-send").disabled = false;
      if (!rep.ok) { msg("Refused: " + rep.error, "bad"); return; }
      const s = rep.suggestion || {};
      msg("Next-day pain " + v + "/10 saved." + (s.text ? " Suggestion (" + s.rule + "): " + s.text : ""), "ok");
    };
    $("ndp-send").addEventListener("click", send);
    $("ndp-value").addEventListener("keydown", (e) => { if (e.key === "Enter") send(); });
  }

  async function main() {
    await nd.session();
    const id = nd.param("id");
    if (id) await one(id); else await list();
  }
  main();
})();
