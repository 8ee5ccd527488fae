// Shared helpers of the studio's pages: JSON requests with the server's one-line errors, and a small line chart.

export const $ = (id) => document.getElementById(id);

/** Fetches JSON; a failed request throws an Error whose message is the server's one-line error. */
export async function api(path, options) {
  const response = await fetch(path, options);
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

/** The Error of a failed response: the server's {"error", "field"} when it sent one. */
export async function errorOf(response) {
  let message = `HTTP ${response.status}`, field = null;
  try {
    const body = await response.json();
    message = body.error ?? message;
    field = body.field ?? null;
  } catch { /* not JSON */ }
  const error = new Error(message);
  error.status = response.status;
  error.field = field;
  return error;
}

/** Shows an error (or clears it with null) in an element of class "error". */
export function showError(element, error) {
  element.textContent = error ? (error.message ?? String(error)) : "";
}

export const fmt = (v, digits = 4) => (v === null || v === undefined || Number.isNaN(v)) ? "–"
  : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : Number(v.toPrecision(digits)).toString();

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
}

/**
 * Draws line series on a canvas: series [{x, y, color, width, axis: "left"|"right"}], options {logY, left: [min, max],
 * right: [min, max], xLabel, leftLabel, rightLabel, marker: x}. Points with a non-finite y are skipped.
 */
export function chart(canvas, series, options = {}) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = w * ratio; canvas.height = h * ratio;
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, w, h);
  const pad = { l: 52, r: options.rightLabel ? 48 : 14, t: 10, b: 30 };
  const xs = series.flatMap((s) => s.x);
  if (xs.length === 0) {
    g.fillStyle = "#5d6677"; g.font = "13px sans-serif"; g.fillText(options.empty ?? "no data yet", pad.l, h / 2);
    return;
  }
  const xMin = options.xRange?.[0] ?? Math.min(...xs), xMax = options.xRange?.[1] ?? Math.max(...xs);
  const tf = (v) => options.logY ? Math.log10(v) : v;
  const range = (axis) => {
    const given = options[axis];
    if (given) return given.map(tf);
    const ys = series.filter((s) => (s.axis ?? "left") === axis).flatMap((s) => s.y).filter((v) => Number.isFinite(v) && (!options.logY || v > 0)).map(tf);
    if (ys.length === 0) return [0, 1];
    let lo = Math.min(...ys), hi = Math.max(...ys);
    if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
    return [lo, hi];
  };
  const ranges = { left: range("left"), right: range("right") };
  const X = (x) => pad.l + (xMax === xMin ? 0 : (x - xMin) / (xMax - xMin)) * (w - pad.l - pad.r);
  const Y = (axis, y) => { const [lo, hi] = ranges[axis]; return pad.t + (1 - (tf(y) - lo) / (hi - lo)) * (h - pad.t - pad.b); };

  g.strokeStyle = "#dde1e8"; g.lineWidth = 1; g.fillStyle = "#5d6677"; g.font = "11px sans-serif";
  for (let i = 0; i <= 4; i++) {
    const yv = ranges.left[0] + (i / 4) * (ranges.left[1] - ranges.left[0]);
    const py = pad.t + (1 - i / 4) * (h - pad.t - pad.b);
    g.beginPath(); g.moveTo(pad.l, py); g.lineTo(w - pad.r, py); g.stroke();
    g.fillText(fmt(options.logY ? 10 ** yv : yv, 3), 4, py + 4);
    if (options.rightLabel) {
      const rv = ranges.right[0] + (i / 4) * (ranges.right[1] - ranges.right[0]);
      g.fillText(fmt(options.logY ? 10 ** rv : rv, 3), w - pad.r + 4, py + 4);
    }
  }
  g.fillText(fmt(xMin, 6), pad.l, h - 12);
  const right = fmt(xMax, 6);
  g.fillText(right, w - pad.r - g.measureText(right).width, h - 12);
  if (options.xLabel) g.fillText(options.xLabel, (w - g.measureText(options.xLabel).width) / 2, h - 4);
  for (const s of series) {
    const axis = s.axis ?? "left";
    g.strokeStyle = s.color; g.lineWidth = s.width ?? 1.5; g.beginPath();
    let pen = false;
    for (let i = 0; i < s.x.length; i++) {
      const y = s.y[i];
      if (!Number.isFinite(y) || (options.logY && y <= 0)) { pen = false; continue; }
      const py = Math.min(Math.max(Y(axis, y), pad.t), h - pad.b);
      if (pen) g.lineTo(X(s.x[i]), py); else g.moveTo(X(s.x[i]), py);
      pen = true;
    }
    g.stroke();
  }
  let legend = pad.l + 6;
  for (const s of series.filter((s) => s.label)) {
    g.fillStyle = s.color; g.fillRect(legend, pad.t + 4, 10, 3);
    g.fillStyle = "#1d2330"; g.fillText(s.label, legend + 14, pad.t + 9);
    legend += g.measureText(s.label).width + 30;
  }
  if (options.marker !== undefined && options.marker !== null) {
    const px = X(options.marker);
    g.strokeStyle = "#c62828"; g.lineWidth = 1.5; g.beginPath(); g.moveTo(px, pad.t); g.lineTo(px, h - pad.b); g.stroke();
  }
}

/** Marks the current page's link in the header. */
export function markHere() {
  for (const a of document.querySelectorAll("header a[href]")) if (a.getAttribute("href") === location.pathname) a.classList.add("here");
}
