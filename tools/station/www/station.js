/* Station page: live view and control of one board over the station's
 * WebSocket (STATION.md "WebSocket messages"). */
"use strict";
(function () {
  const $ = nd.$;
  const LOADED_N = 20;        /* above this on a hook, a tare would zero a load */
  const TRACE_S = 10;
  const st = {
    board: null, ws: null, openedAt: 0, nextId: 1, pending: new Map(), status: null, statusAt: 0,
    live: null, recording: false, trial: null, settings: null, reps: 0,
    wave: [], lastWaveT: -Infinity, tareArmedUntil: 0, painSel: null, set: null, setRows: 0,
    bestNote: null,
  };
  window.ndFrames = 0;        /* frames drawn: the browser test reads the drawing rate */

  function setMsg(text, kind) {
    const m = $("control-msg");
    m.textContent = text;
    m.className = "message" + (kind ? " " + kind : "");
  }

  /* ---- WebSocket ---- */
  function connect() {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
    const ws = new WebSocket(url, "nordic-station");
    st.ws = ws;
    ws.onopen = () => { st.openedAt = performance.now(); ws.send(JSON.stringify({ type: "hello", daemon: st.board })); };
    ws.onmessage = (ev) => { let m; try { m = JSON.parse(ev.data); } catch (e) { return; } onMessage(m); };
    ws.onclose = () => {
      st.ws = null;
      for (const [, p] of st.pending) p.resolve({ ok: false, error: "connection to the station lost" });
      st.pending.clear();
      showState("offline", "station connection lost, retrying…");
      setTimeout(connect, 1000);
    };
  }

  function command(cmd) {
    return new Promise((resolve) => {
      if (!st.ws || st.ws.readyState !== WebSocket.OPEN) { resolve({ ok: false, error: "not connected to the station" }); return; }
      const id = st.nextId++;
      st.pending.set(id, { resolve });
      st.ws.send(JSON.stringify({ type: "cmd", id, daemon: st.board, csrf: nd.csrf, cmd }));
    });
  }

  function onMessage(m) {
    if (m.type === "reply") {
      const p = st.pending.get(m.id);
      if (p) { st.pending.delete(m.id); p.resolve(m.reply); }
      return;
    }
    /* The station took the best of a "% of best" target from its index (STATION.md). */
    if (m.type === "best") { st.bestNote = m.text; return; }
    if (m.type === "error") { setMsg("Station: " + m.error, "bad"); return; }
    if (m.type === "hello") { st.wave = []; st.lastWaveT = -Infinity; return; }
    if (m.type !== "msg") return;
    const msg = m.msg;
    switch (m.topic) {
      case "status": onStatus(msg); break;
      case "live": st.live = msg; if (msg.set !== undefined) onSetState(msg.set || null); break;
      case "wave": onWave(msg); break;
      case "trial": msg.event === "start" ? onTrialStart(msg) : onTrialStop(msg); break;
      case "rep": onRep(msg); break;
      case "set": onSetResult(msg); break;
    }
  }

  /* ---- device state ---- */
  function showState(cls, text) {
    const s = $("state");
    s.className = "state " + cls;
    s.textContent = text;
  }

  function onStatus(s) {
    st.status = s; st.statusAt = performance.now();
    st.recording = s.state === "recording";
    const dev = s.device || {};
    showState(s.activity || s.state, s.activity ? s.activity : s.state);
    $("dev-model").textContent = [dev.model, dev.serial].filter(Boolean).join(" ") || dev.uri || "–";
    $("dev-connected").textContent = dev.connected ? "yes" : "no";
    $("dev-rate").textContent = s.rate_hz ? s.rate_hz + " Hz" : "–";
    const c = s.counters || {};
    $("c-samples").textContent = c.samples ?? "–";
    $("c-gaps").textContent = (c.gaps ?? "–") + " / " + (c.gap_sets ?? "–");
    $("c-dropped").textContent = c.dropped ?? "–";
    $("c-live").textContent = (c.live_skipped ?? "–") + " sets, " + (c.live_dropped_msgs ?? "–") + " msgs";
    $("c-file").textContent = (c.file_errors ?? "–") + " (" + (c.file_sets_lost ?? "–") + " sets lost)";
    $("last-error").textContent = s.last_error ? "Last error: " + s.last_error : "";
    if (!dev.connected) showState("offline", "device disconnected");
    onSetState(st.recording ? s.set || null : null);
    updateButtons();
  }

  function updateButtons() {
    const online = !!st.status && performance.now() - st.statusAt < 3500;
    /* status comes every second: three missing means nordicd is not answering */
    if (!online && st.ws && performance.now() - st.openedAt > 3500)
      showState("offline", "no data from nordicd");
    const busy = st.status && st.status.activity;
    $("tare").disabled = !online || st.recording || !!busy;
    $("start").disabled = !online || st.recording || !!busy;
    $("stop").disabled = !online || !st.recording;
    for (const b of document.querySelectorAll("#pain button")) b.disabled = !st.recording;
    $("add-note").disabled = !st.recording;
    $("next-set").disabled = !online || !st.recording || !st.set || st.set.phase === "done";
  }

  /* ---- sessions: the set object of status/live, the set topic (ZMQ_PROTOCOL.md) ---- */
  const PHASES = { waiting: "waiting for the first rep", set: "set", rest: "rest", done: "done" };
  function onSetState(x) {
    if (x && st.set && x.set !== st.set.set) { st.painSel = null; markPain(); } /* pain is per set */
    st.set = x;
    const card = $("card-session");
    if (!x) { if (!st.recording) card.classList.toggle("hidden", !st.setRows); return; }
    card.classList.remove("hidden");
    const iso = x.test === "isometric"; /* holds at a knee angle (METRICS.md 5.7) */
    $("set-pos").textContent = "Set " + x.set + " of " + x.sets_planned + (iso ? " · hold " : " · rep ") + x.rep + " of " + x.reps_planned +
      (x.leg && x.leg !== "both" ? " · " + x.leg + " leg" : "") + (iso ? " · " + x.angle_deg + "°" : "");
    $("next-angle-box").classList.toggle("hidden", !iso);
    $("set-phase").textContent = PHASES[x.phase] || x.phase;
    $("set-phase").dataset.phase = x.phase;
    $("set-zone").textContent = x.last_rep_zone && x.last_rep_zone !== "none" ? "last rep: " + x.last_rep_zone + " zone" : "";
    const resting = x.phase === "rest";
    $("rest-box").classList.toggle("resting", resting);
    $("rest-left").textContent = resting ? String(Math.ceil(x.rest_remaining_s)) : "–";
  }

  function clearSets() {
    st.setRows = 0;
    $("set-rows").replaceChildren(nd.el("tr", { class: "empty-row" }, nd.el("td", { colSpan: 8, class: "empty" }, "No finished set yet")));
  }

  function onSetResult(r) {
    const body = $("set-rows");
    const empty = body.querySelector(".empty-row");
    if (empty) empty.remove();
    const old = body.querySelector("tr[data-set='" + r.index + "']");
    const row = nd.el("tr", { "data-set": String(r.index) },
      nd.el("td", {}, String(r.index) + (r.leg && r.leg !== "both" ? " (" + r.leg + ")" : "") +
        (r.test === "isometric" ? " " + r.angle_deg + "°" : "")),
      nd.el("td", { class: "reps-done" }, r.reps_done + " / " + r.reps_planned),
      nd.el("td", { class: "max-left" }, nd.fmt(r.max_peak_left_N, 1)),
      nd.el("td", { class: "max-right" }, nd.fmt(r.max_peak_right_N, 1)),
      nd.el("td", { class: "asym" }, nd.asym(r.mean_asymmetry_pct, null)),
      nd.el("td", {}, r.zone_reps === null || r.zone_reps === undefined || r.zone_reps < 0 ? "–" : String(r.zone_reps)),
      nd.el("td", { class: "set-pain" }, r.pain === null || r.pain === undefined || r.pain < 0 ? "–" : r.pain + "/10"),
      nd.el("td", {}, r.ended_by || "–"));
    if (old) old.replaceWith(row); else body.append(row);
    st.setRows++;
    $("card-session").classList.remove("hidden");
  }

  /* ---- trial ---- */
  function clearReps() {
    const body = $("rep-rows");
    body.replaceChildren(nd.el("tr", { class: "empty-row" }, nd.el("td", { colSpan: 8, class: "empty" }, "No repetitions yet")));
  }

  function onTrialStart(t) {
    st.trial = t; st.settings = t.settings || null; st.reps = 0;
    st.wave = []; st.lastWaveT = -Infinity;
    clearReps();
    clearSets();
    onSetState(null);
    $("card-session").classList.toggle("hidden", !t.protocol && !(t.settings && t.settings.protocol));
    $("summary").classList.add("hidden");
    $("trial-athlete").textContent = t.athlete_id;
    st.painSel = null; markPain();
  }

  function repFlags(r) {
    const s = st.settings || {};
    const weak = isFinite(s.weak_threshold_N) ? s.weak_threshold_N : 256;
    const imb = isFinite(s.imbalance_pct) ? s.imbalance_pct : 15;
    const f = [];
    if (r.peak_left_N < weak) f.push(["weak_left", "Weak L"]);
    if (r.peak_right_N < weak) f.push(["weak_right", "Weak R"]);
    if (r.abs_asymmetry_pct !== null && r.abs_asymmetry_pct >= imb) f.push(["imbalance", "Imbalance"]);
    return f;
  }

  function onRep(r) {
    const body = $("rep-rows");
    const empty = body.querySelector(".empty-row");
    if (empty) empty.remove();
    const flags = nd.el("td", { class: "flags" });
    for (const [k, label] of repFlags(r)) flags.append(nd.el("span", { class: "flag" + (k === "imbalance" ? " warn" : ""), title: nd.flagLabel(k, st.settings) }, label));
    const row = nd.el("tr", { "data-index": String(r.index) },
      nd.el("td", {}, String(r.index)),
      nd.el("td", { class: "peak-left" }, nd.fmt(r.peak_left_N, 1)),
      nd.el("td", { class: "peak-right" }, nd.fmt(r.peak_right_N, 1)),
      nd.el("td", { class: "asym" }, nd.asym(r.asymmetry_pct, null)),
      nd.el("td", { class: "weaker" }, r.weaker_side),
      nd.el("td", {}, nd.fmt(r.duration_s, 2)),
      nd.el("td", { class: "zone" + (r.zone ? " zone-" + r.zone : "") }, r.zone || "–"),
      flags);
    body.append(row);
    st.reps = Math.max(st.reps, r.index);
  }

  function onTrialStop(t) {
    const s = t.summary || {};
    $("s-reps").textContent = s.reps ?? "–";
    $("s-max").textContent = nd.fmt(s.max_left_N, 1) + " / " + nd.fmt(s.max_right_N, 1);
    $("s-mean").textContent = nd.fmt(s.mean_left_N, 1) + " / " + nd.fmt(s.mean_right_N, 1);
    $("s-asym").textContent = nd.asym(s.asymmetry_pct, s.weaker_side);
    const flags = $("s-flags");
    flags.replaceChildren();
    const list = Array.isArray(s.flags) ? s.flags : [];
    for (const f of list) flags.append(nd.el("span", { class: "flag", "data-flag": f }, nd.flagLabel(f, t.settings)));
    if (!list.length) flags.append(nd.el("span", { class: "flag none", "data-flag": "none" }, "No flags"));
    if (s.pain_rating !== null && s.pain_rating !== undefined) flags.append(" ", nd.el("span", { class: "flag warn" }, "Pain " + s.pain_rating + "/10"));
    const link = $("s-link");
    link.replaceChildren(nd.el("a", { href: "trial.html?id=" + encodeURIComponent(t.trial_id) }, "Open this trial"), " · ",
      nd.el("a", { href: "athlete.html?id=" + encodeURIComponent(t.athlete_id) }, "Athlete history"));
    $("summary").classList.remove("hidden");
    st.recording = false;
    updateButtons();
  }

  /* ---- live drawing ---- */
  function onWave(w) {
    if (!Array.isArray(w.left_N)) return;
    if (w.t0 < st.lastWaveT - 0.5) st.wave = []; /* new time base (a trial started) */
    for (let i = 0; i < w.n; i++) st.wave.push([w.t0 + i * w.dt, w.left_N[i], w.right_N[i]]);
    st.lastWaveT = w.t0 + (w.n - 1) * w.dt;
    const cut = st.lastWaveT - TRACE_S - 0.5;
    let k = 0;
    while (k < st.wave.length && st.wave[k][0] < cut) k++;
    if (k > 256) st.wave = st.wave.slice(k);
  }

  /* Before the first tare the readings include the cells' offsets, so nothing
   * can be said (as in nordicd, which checks for load only once it has a tare);
   * after it, an open rep or any force above LOADED_N means loaded hooks. */
  function hooksLoaded() {
    const l = st.live;
    const ch = (st.status && st.status.channels) || [];
    const tared = ch.some((c) => c.offset_counts !== 0 && c.offset_counts !== null);
    if (!l || !tared) return false;
    return !!l.rep_open || Math.max(Math.abs(l.left_N || 0), Math.abs(l.right_N || 0)) > LOADED_N;
  }

  function drawBars() {
    const l = st.live;
    if (!l) return;
    $("left-n").textContent = nd.fmt(l.left_N, 0);
    $("right-n").textContent = nd.fmt(l.right_N, 0);
    $("left-peak").textContent = nd.fmt(l.running_peak_left_N, 0);
    $("right-peak").textContent = nd.fmt(l.running_peak_right_N, 0);
    $("rep-count").textContent = l.reps ?? 0;
    $("trial-t").textContent = l.t !== null && l.t !== undefined ? l.t.toFixed(1) + " s" : "–";
    const full = Math.max(500, (st.settings && st.settings.weak_threshold_N || 256) * 2);
    const pct = (v) => Math.max(0, Math.min(100, 100 * (v || 0) / full)) + "%";
    $("left-bar").style.width = pct(l.left_N);
    $("right-bar").style.width = pct(l.right_N);
    $("left-peak-mark").style.left = pct(l.running_peak_left_N);
    $("right-peak-mark").style.left = pct(l.running_peak_right_N);
    const loaded = hooksLoaded();
    const warn = $("tare-warning");
    if (loaded && !st.recording) {
      warn.textContent = "The hooks look loaded (L " + nd.fmt(l.left_N, 0) + " N, R " + nd.fmt(l.right_N, 0) +
        " N). Taring now would count that load as zero: unload the hooks first.";
      warn.classList.remove("hidden");
    } else warn.classList.add("hidden");
  }

  function drawTrace() {
    const c = $("trace");
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(c.clientWidth * dpr), h = Math.round(c.clientHeight * dpr);
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    const g = c.getContext("2d");
    g.clearRect(0, 0, w, h);
    const pad = { l: 48 * dpr, r: 8 * dpr, t: 8 * dpr, b: 22 * dpr };
    const pw = w - pad.l - pad.r, ph = h - pad.t - pad.b;
    const t1 = st.lastWaveT, t0 = t1 - TRACE_S;
    let top = 200;
    for (const p of st.wave) if (p[0] >= t0) top = Math.max(top, p[1] || 0, p[2] || 0);
    top = Math.ceil(top * 1.1 / 100) * 100;
    g.font = (12 * dpr) + "px sans-serif";
    g.fillStyle = "#5b6776"; g.strokeStyle = "#e3e8ee"; g.lineWidth = 1;
    g.textAlign = "right"; g.textBaseline = "middle";
    const step = top <= 400 ? 100 : top <= 1000 ? 200 : 500;
    for (let v = 0; v <= top; v += step) {
      const y = pad.t + ph - ph * v / top;
      g.beginPath(); g.moveTo(pad.l, y); g.lineTo(w - pad.r, y); g.stroke();
      g.fillText(v + " N", pad.l - 6 * dpr, y);
    }
    g.textAlign = "center"; g.textBaseline = "top";
    for (let s = 0; s <= TRACE_S; s += 2) {
      g.textAlign = s === TRACE_S ? "right" : "center";
      g.fillText(s === TRACE_S ? "now" : "−" + (TRACE_S - s) + " s", pad.l + pw * s / TRACE_S, h - pad.b + 4 * dpr);
    }
    if (!isFinite(t1)) return;
    const line = (idx, color) => {
      g.strokeStyle = color; g.lineWidth = 2 * dpr; g.beginPath();
      let first = true;
      for (const p of st.wave) {
        if (p[0] < t0 || p[idx] === null) { first = true; continue; }
        const x = pad.l + pw * (p[0] - t0) / TRACE_S;
        const y = pad.t + ph - ph * Math.max(0, Math.min(top, p[idx])) / top;
        if (first) { g.moveTo(x, y); first = false; } else g.lineTo(x, y);
      }
      g.stroke();
    };
    line(1, "#1f6fd1");
    line(2, "#d9480f");
  }

  function frame() {
    drawBars();
    drawTrace();
    window.ndFrames++;
    requestAnimationFrame(frame);
  }

  /* ---- controls ---- */
  function startCommand() {
    const id = $("athlete-id").value.trim();
    if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/.test(id)) {
      setMsg("Enter an athlete ID (letters, digits, . _ -) or pick an athlete.", "bad");
      $("athlete-id").focus();
      return null;
    }
    const cmd = { cmd: "start", athlete_id: id, injured_side: $("injured").value };
    const mass = parseFloat($("body-mass").value), lever = parseFloat($("lever").value);
    if (isFinite(mass)) cmd.body_mass_kg = mass;
    if (isFinite(lever)) cmd.lever_m = lever;
    const proto = $("protocol").value.trim();
    if (proto) {
      if (!/^[0-9]{1,2}x[0-9]{1,2}$/.test(proto)) {
        setMsg("Protocol: sets×reps such as 3x6, or empty for a free trial.", "bad");
        $("protocol").focus();
        return null;
      }
      cmd.protocol = proto;
      if (!plan(cmd)) return null;
    }
    if ($("trial-notes").value.trim()) cmd.notes = $("trial-notes").value.trim();
    return cmd;
  }

  /* Rest, set gap and target zone go into start only with a protocol (METRICS.md 5);
   * the daemon checks the ranges and its refusal is shown. */
  function plan(cmd) {
    const num = (id) => { const v = $(id).value.trim(); return v === "" ? null : Number(v); };
    const bad = (id, what) => { setMsg(what, "bad"); $(id).focus(); return false; };
    const put = (id, key) => {
      const v = num(id);
      if (v === null) return true;
      if (!isFinite(v)) return bad(id, "Enter a number for " + key + ".");
      cmd[key] = v;
      return true;
    };
    if (!put("rest-s", "rest_s") || !put("set-gap-s", "set_gap_s")) return false;
    const kind = $("target-kind").value;
    if (kind === "n") {
      if (num("target-left") === null && num("target-right") === null) return bad("target-left", "Enter a target for at least one leg.");
      if (!put("target-left", "target_left_N") || !put("target-right", "target_right_N")) return false;
    } else if (kind === "pct") {
      if (num("target-pct") === null) return bad("target-pct", "Enter the target as % of the best.");
      if (!put("target-pct", "target_pct") || !put("best-left", "best_left_N") || !put("best-right", "best_right_N")) return false;
    }
    if (kind && !put("tolerance", "target_tolerance_pct")) return false;
    if (num("iso-angle") !== null) cmd.test = "isometric";
    return put("iso-angle", "angle_deg");
  }

  function showTargetFields() {
    const kind = $("target-kind").value;
    $("target-n").classList.toggle("hidden", kind !== "n");
    $("target-pct-row").classList.toggle("hidden", kind !== "pct");
    $("tolerance").parentElement.classList.toggle("hidden", !kind);
    if (kind === "pct") $("target-pct-row").append($("tolerance").parentElement);
    else $("target-n").append($("tolerance").parentElement);
  }

  async function run(button, cmd, okText) {
    button.disabled = true;
    setMsg("Sending " + cmd.cmd + "…");
    const r = await command(cmd);
    if (r.ok) setMsg(okText(r), "ok"); else setMsg(cmd.cmd + " refused: " + r.error, "bad");
    updateButtons();
    return r;
  }

  function bindControls() {
    $("tare").addEventListener("click", () => {
      if (hooksLoaded() && performance.now() > st.tareArmedUntil) {
        st.tareArmedUntil = performance.now() + 10000;
        $("tare").textContent = "Tare anyway";
        setMsg("The hooks look loaded. Press “Tare anyway” within 10 s to tare regardless.", "bad");
        setTimeout(() => { $("tare").textContent = "Tare"; }, 10000);
        return;
      }
      st.tareArmedUntil = 0;
      $("tare").textContent = "Tare";
      run($("tare"), { cmd: "tare", side: "both" }, (r) => "Tared. " + (r.detail || ""));
    });
    $("start").addEventListener("click", () => {
      const cmd = startCommand();
      st.bestNote = null;
      if (cmd) run($("start"), cmd, (r) => "Recording trial " + r.trial_id + "." + (st.bestNote ? " " + st.bestNote + "." : "")).then((r) => { if (r.ok) st.recording = true, updateButtons(); });
    });
    $("next-set").addEventListener("click", () => {
      const cmd = { cmd: "set", action: "next" };
      const angle = $("next-angle").value.trim();
      if (angle !== "") cmd.angle_deg = Number(angle); /* the daemon checks it */
      run($("next-set"), cmd, () => "Set " + (st.set ? st.set.set : "") + " ended; rest started." +
        (angle !== "" ? " Next sets at " + angle + "°." : ""));
    });
    $("target-kind").addEventListener("change", showTargetFields);
    showTargetFields();
    $("stop").addEventListener("click", () => run($("stop"), { cmd: "stop" }, (r) => "Stopped; trial " + r.trial_id + " saved."));
    const pain = $("pain");
    for (let v = 0; v <= 10; v++) {
      const b = nd.el("button", { type: "button", "data-value": String(v), title: "Pain " + v + " of 10" }, String(v));
      b.addEventListener("click", async () => {
        const r = await run(b, { cmd: "mark", kind: "pain", value: v }, () => "Pain " + v + " recorded.");
        if (r.ok) { st.painSel = v; markPain(); }
      });
      pain.append(b);
    }
    const addNote = () => {
      const text = $("note").value.trim();
      if (!text) return;
      run($("add-note"), { cmd: "mark", kind: "note", detail: text }, () => "Note recorded.").then((r) => { if (r.ok) $("note").value = ""; });
    };
    $("add-note").addEventListener("click", addNote);
    $("note").addEventListener("keydown", (e) => { if (e.key === "Enter") addNote(); });
    $("athlete-search").addEventListener("input", searchAthletes);
    $("new-athlete").addEventListener("click", newAthlete);
  }

  function markPain() {
    for (const b of document.querySelectorAll("#pain button"))
      b.classList.toggle("sel", Number(b.dataset.value) === st.painSel);
  }

  /* ---- athletes (/api/v1/athletes of the trial index) ---- */
  let searchTimer = 0, registry = true;
  function athleteMsg(text, kind) { const m = $("athlete-msg"); m.textContent = text; m.className = "message" + (kind ? " " + kind : ""); }

  function fillAthlete(a) {
    $("athlete-id").value = a.id ?? a.athlete_id ?? "";
    $("athlete-name").value = a.display_name ?? "";
    $("body-mass").value = a.body_mass_kg ?? "";
    $("lever").value = a.lever_m ?? "";
    $("injured").value = a.injured_side || "none";
    $("athlete-results").replaceChildren();
    athleteMsg("Selected " + (a.display_name || $("athlete-id").value) + ".", "ok");
  }

  function searchAthletes() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(async () => {
      const q = $("athlete-search").value.trim();
      const list = $("athlete-results");
      if (!q || !registry) { list.replaceChildren(); return; }
      const r = await nd.api("GET", "/api/v1/athletes?q=" + encodeURIComponent(q));
      if (r.status === 404) { noRegistry(); return; }
      const items = r.body && (Array.isArray(r.body) ? r.body : r.body.items || r.body.athletes) || [];
      list.replaceChildren(...items.slice(0, 20).map((a) => {
        const b = nd.el("button", { type: "button" }, (a.display_name || a.id) + " · " + (a.id ?? a.athlete_id));
        b.addEventListener("click", () => fillAthlete(a));
        return nd.el("li", {}, b);
      }));
      if (!items.length) athleteMsg("No athlete matches “" + q + "”.");
    }, 250);
  }

  function noRegistry() {
    registry = false;
    $("new-athlete").disabled = true;
    athleteMsg("The athlete registry is not available on this station: enter the athlete's details below.");
  }

  async function newAthlete() {
    const body = { display_name: $("athlete-name").value.trim() || $("athlete-id").value.trim(),
                   injured_side: $("injured").value };
    if ($("athlete-id").value.trim()) body.id = $("athlete-id").value.trim();
    const mass = parseFloat($("body-mass").value), lever = parseFloat($("lever").value);
    if (isFinite(mass)) body.body_mass_kg = mass;
    if (isFinite(lever)) body.lever_m = lever;
    const r = await nd.api("POST", "/api/v1/athletes", body);
    if (r.status === 404) { noRegistry(); return; }
    if (r.status >= 300) { athleteMsg("Not saved: " + (r.body && r.body.error || "HTTP " + r.status), "bad"); return; }
    fillAthlete(r.body || body);
    athleteMsg("Athlete saved.", "ok");
  }

  /* ---- start ---- */
  async function boards() {
    const r = await nd.api("GET", "/api/v1/status");
    const names = (r.body && r.body.daemons || []).map((d) => d.name);
    st.board = nd.param("d") && names.includes(nd.param("d")) ? nd.param("d") : names[0];
    $("board-name").textContent = names.length > 1 ? "board " + st.board : "";
    if (names.length > 1)
      $("boards").replaceChildren(...names.map((n) => nd.el("a", Object.assign({ href: "station.html?d=" + encodeURIComponent(n) },
        n === st.board ? { ariaCurrent: "page" } : {}), n)));
  }

  async function main() {
    await nd.session();
    await boards();
    bindControls();
    updateButtons();
    setInterval(updateButtons, 1000);
    connect();
    requestAnimationFrame(frame);
  }
  main();
})();
