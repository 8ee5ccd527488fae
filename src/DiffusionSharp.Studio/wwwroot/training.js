// The Training page: polls /api/runs/ID?since=N every second for the loss rows it lacks and the run's state.
import { $, api, chart, duration, fmt, markHere, showError } from "/static/studio.js";

markHere();
let runId = null, rows = [], sampleVersion = null, timer = null, evalKey = null;

function smoothed(values, alpha) {
  const out = [];
  let s = null, weight = 0;
  for (const v of values) {
    if (v === null) { out.push(s === null ? null : s / weight); continue; }
    s = s === null ? (1 - alpha) * v : alpha * s + (1 - alpha) * v;
    weight = weight === 0 ? 1 - alpha : alpha * weight + (1 - alpha);
    out.push(s / weight);
  }
  return out;
}

function drawCharts() {
  const steps = rows.map((r) => r[0]);
  const loss = rows.map((r) => r[1]);
  chart($("loss-chart"), [
    { x: steps, y: loss, color: "#9db7e8", width: 1, label: "loss" },
    { x: steps, y: smoothed(loss, Number($("smoothing").value)), color: "#1d4fb0", width: 2, label: "smoothed" },
  ], { logY: true, xLabel: "step", empty: "no loss rows yet (diffuse train writes them at each checkpoint)" });
  chart($("lr-chart"), [{ x: steps, y: rows.map((r) => r[2]), color: "#e07b1f", label: "learning rate" }], { xLabel: "step", left: [0, Math.max(1e-12, ...rows.map((r) => r[2]))] });
}

function showEval(table) {
  const key = table ? JSON.stringify(table.rows.length) : null;
  if (key === evalKey) return;
  evalKey = key;
  if (!table) { $("eval").textContent = "no eval.csv (train with --eval-every K)"; return; }
  const t = document.createElement("table");
  t.className = "eval";
  t.insertRow().append(...table.columns.map((c) => Object.assign(document.createElement("th"), { textContent: c })));
  for (const r of table.rows) t.insertRow().append(...r.map((v) => Object.assign(document.createElement("td"), { textContent: fmt(v) })));
  $("eval").replaceChildren(t);
}

async function poll() {
  if (!runId) return;
  const id = runId;
  try {
    const s = await api(`/api/runs/${encodeURIComponent(id)}?since=${rows.length}`);
    if (id !== runId) return;
    if (s.reset) rows = [];
    rows.push(...s.rows);
    $("rows").textContent = String(rows.length);
    $("run-status").textContent = s.status;
    $("run-status").className = `badge ${s.status}`;
    $("run-step").textContent = s.targetSteps ? `${s.step} / ${s.targetSteps}` : String(s.step);
    const last = rows.length ? smoothed(rows.map((r) => r[1]), Number($("smoothing").value)).at(-1) : null;
    $("run-loss").textContent = fmt(last);
    $("run-lr").textContent = rows.length ? fmt(rows.at(-1)[2]) : "–";
    $("run-speed").textContent = s.imagesPerSecond ? s.imagesPerSecond.toFixed(1) : "–";
    $("run-eta").textContent = s.status === "running" ? duration(s.etaSeconds) : "–";
    $("run-updated").textContent = s.updatedSecondsAgo === undefined ? "" : `last written ${duration(s.updatedSecondsAgo)} ago`
      + (s.trainingSeconds ? `; ${duration(s.trainingSeconds)} of training so far` : "");
    if (s.latestSample && s.sampleVersion !== sampleVersion) {
      sampleVersion = s.sampleVersion;
      $("sample").src = `/api/runs/${encodeURIComponent(id)}/samples/${s.latestSample}?v=${s.sampleVersion}`;
      $("sample").dataset.step = String(s.latestSampleStep);
      $("sample-step").textContent = `(step ${s.latestSampleStep})`;
    }
    if (s.hasReverseProcess && $("reverse-panel").classList.contains("hidden")) {
      $("reverse").src = `/api/runs/${encodeURIComponent(id)}/samples/reverse-process.png?v=${s.sampleVersion ?? 0}`;
      $("reverse-panel").classList.remove("hidden");
    }
    showEval(s.eval ?? null);
    if (s.rows.length || s.reset) drawCharts();
    showError($("error"), null);
  } catch (e) {
    showError($("error"), e);
  }
}

function choose() {
  runId = $("run").value || null;
  rows = []; sampleVersion = null; evalKey = null;
  $("sample").removeAttribute("src");
  $("reverse-panel").classList.add("hidden");
  drawCharts();
  poll();
}

function schedule() {
  clearInterval(timer);
  if ($("follow").checked) timer = setInterval(poll, 1000);
}

const list = await api("/api/runs");
for (const id of list.runs) $("run").add(new Option(id, id));
const wanted = new URLSearchParams(location.search).get("run");
if (wanted && list.runs.includes(wanted)) $("run").value = wanted;
if (list.runs.length === 0) showError($("error"), new Error(`no runs in ${list.root}: start diffuse studio with --runs DIR (the folder that holds your --out folders)`));
$("run").addEventListener("change", choose);
$("smoothing").addEventListener("change", drawCharts);
$("follow").addEventListener("change", schedule);
window.addEventListener("resize", drawCharts);
choose();
schedule();
