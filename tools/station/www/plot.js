/* Small Canvas 2D line plot for the trial and athlete pages: lines, shaded
 * x-spans (reps) and a shaded y-band (minimal detectable change). */
"use strict";
window.ndPlot = function (canvas, o) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(canvas.clientWidth * dpr), h = Math.round(canvas.clientHeight * dpr);
  canvas.width = w; canvas.height = h;
  const g = canvas.getContext("2d");
  const pad = { l: 58 * dpr, r: 12 * dpr, t: 12 * dpr, b: 34 * dpr };
  const pw = w - pad.l - pad.r, ph = h - pad.t - pad.b;
  let x0 = Infinity, x1 = -Infinity, y1 = o.yMin || 100;
  for (const s of o.series) for (let i = 0; i < s.x.length; i++) {
    if (s.y[i] === null || !isFinite(s.y[i])) continue;
    x0 = Math.min(x0, s.x[i]); x1 = Math.max(x1, s.x[i]); y1 = Math.max(y1, s.y[i]);
  }
  if (o.band) y1 = Math.max(y1, o.band.y1);
  if (!isFinite(x0)) { g.fillStyle = "#5b6776"; g.font = 14 * dpr + "px sans-serif"; g.fillText(o.empty || "No data", pad.l, pad.t + 20 * dpr); return; }
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  y1 = Math.ceil(y1 * 1.1 / 50) * 50;
  const X = (x) => pad.l + pw * (x - x0) / (x1 - x0), Y = (y) => pad.t + ph - ph * y / y1;
  g.font = 12 * dpr + "px sans-serif";
  for (const span of o.spans || []) {
    g.fillStyle = "rgba(11, 92, 173, 0.08)";
    g.fillRect(X(span.x0), pad.t, Math.max(1, X(span.x1) - X(span.x0)), ph);
    g.fillStyle = "#5b6776"; g.textAlign = "center"; g.textBaseline = "top";
    g.fillText(span.label, (X(span.x0) + X(span.x1)) / 2, pad.t + 2 * dpr);
  }
  if (o.band) {
    g.fillStyle = "rgba(29, 122, 70, 0.12)";
    g.fillRect(pad.l, Y(o.band.y1), pw, Y(o.band.y0) - Y(o.band.y1));
  }
  g.strokeStyle = "#e3e8ee"; g.lineWidth = 1; g.fillStyle = "#5b6776"; g.textAlign = "right"; g.textBaseline = "middle";
  const step = y1 <= 400 ? 50 : y1 <= 1000 ? 100 : 250;
  for (let v = 0; v <= y1; v += step) {
    g.beginPath(); g.moveTo(pad.l, Y(v)); g.lineTo(w - pad.r, Y(v)); g.stroke();
    g.fillText(v + " N", pad.l - 6 * dpr, Y(v));
  }
  g.textAlign = "center"; g.textBaseline = "top";
  for (let i = 0; i <= 5; i++) {
    const x = x0 + (x1 - x0) * i / 5;
    g.textAlign = i === 0 ? "left" : i === 5 ? "right" : "center";
    g.fillText(o.xLabel ? o.xLabel(x) : x.toFixed(1) + " s", X(x), h - pad.b + 6 * dpr);
  }
  for (const s of o.series) {
    g.strokeStyle = s.color; g.fillStyle = s.color; g.lineWidth = (s.width || 2) * dpr;
    g.setLineDash(s.dash ? [6 * dpr, 4 * dpr] : []);
    g.beginPath();
    let first = true;
    for (let i = 0; i < s.x.length; i++) {
      if (s.y[i] === null || !isFinite(s.y[i])) { first = true; continue; }
      if (first) { g.moveTo(X(s.x[i]), Y(s.y[i])); first = false; } else g.lineTo(X(s.x[i]), Y(s.y[i]));
    }
    g.stroke();
    if (s.points) for (let i = 0; i < s.x.length; i++) if (isFinite(s.y[i]) && s.y[i] !== null) {
      g.beginPath(); g.arc(X(s.x[i]), Y(s.y[i]), 4 * dpr, 0, 2 * Math.PI); g.fill();
    }
  }
  g.setLineDash([]);
};
