// The Forward page: two schedules side by side; the slider picks the same fraction of each one's T. The ᾱ_t tables come
// once per schedule, so ᾱ_t, the SNR and the plot marker follow the slider at once; x_t is computed by the server (the
// library's ForwardProcess.AddNoise), one request in flight per panel, the newest t winning.
import { $, api, chart, errorOf, fmt, markHere, showError } from "/static/studio.js";

markHere();
const slider = $("t");
const panels = ["a", "b"].map((key) => ({ key, table: null, busy: false, wanted: null, shown: null }));
let imageId = "mnist:0";

function scheduleQuery(p) {
  const q = new URLSearchParams({
    beta_schedule: $(`schedule-${p.key}`).value,
    num_train_timesteps: $(`timesteps-${p.key}`).value,
    beta_start: $(`beta-start-${p.key}`).value,
    beta_end: $(`beta-end-${p.key}`).value,
    rescale_betas_zero_snr: $(`zero-snr-${p.key}`).checked,
  });
  return q.toString();
}

const tOf = (p) => Math.round((Number(slider.value) / Number(slider.max)) * (p.table.numTrainTimesteps - 1));

async function loadSchedule(p) {
  try {
    p.table = await api(`/api/schedule?${scheduleQuery(p)}`);
    showError($(`error-${p.key}`), null);
  } catch (e) {
    p.table = null;
    showError($(`error-${p.key}`), e);
  }
}

function draw(p, t) {
  const ab = p.table.alphasCumprod;
  const steps = ab.map((_, i) => i);
  const logSnr = ab.map((a) => Math.log(a / (1 - a)));
  chart($(`plot-${p.key}`), [
    { x: steps, y: ab, color: "#2d6cdf", label: "ᾱ_t (left)" },
    { x: steps, y: logSnr, color: "#e07b1f", label: "log SNR (right)", axis: "right" },
  ], { left: [0, 1], right: [-12, 12], rightLabel: "log SNR", xLabel: "t", marker: t });
}

async function requestImage(p, t) {
  // The URL names everything x_t depends on: the newest wanted one is fetched after the one in flight.
  p.wanted = `/api/forward?${scheduleQuery(p)}&image=${encodeURIComponent(imageId)}&seed=${$("seed").value}&t=${t}`;
  if (p.busy) return;
  p.busy = true;
  try {
    while (p.wanted !== p.shown) {
      const url = p.wanted;
      const response = await fetch(url);
      if (!response.ok) throw await errorOf(response);
      const img = $(`xt-${p.key}`);
      const old = img.src;
      img.src = URL.createObjectURL(await response.blob());
      img.dataset.t = new URL(url, location.href).searchParams.get("t");
      img.dataset.image = new URL(url, location.href).searchParams.get("image");
      if (old.startsWith("blob:")) URL.revokeObjectURL(old);
      p.shown = url;
      showError($(`error-${p.key}`), null);
    }
  } catch (e) {
    p.shown = p.wanted;
    showError($(`error-${p.key}`), e);
  } finally {
    p.busy = false;
  }
}

function update() {
  $("t-label").textContent = `slider ${slider.value} of ${slider.max}: the same fraction of each schedule's T`;
  for (const p of panels) {
    if (!p.table) continue;
    const t = tOf(p);
    const ab = p.table.alphasCumprod[t];
    $(`tv-${p.key}`).textContent = `${t} / ${p.table.numTrainTimesteps}`;
    $(`ab-${p.key}`).textContent = fmt(ab);
    $(`snr-${p.key}`).textContent = fmt(ab / (1 - ab));
    draw(p, t);
    requestImage(p, t);
  }
}

async function chooseSource() {
  showError($("error"), null);
  const source = $("source").value;
  if (source === "mnist") imageId = `mnist:${$("digit").value}`;
  else if (source === "sample") imageId = $("sample").value;
  else if (source === "upload") {
    const file = $("upload").files[0];
    if (!file) return;
    try {
      imageId = (await api("/api/uploads", { method: "POST", body: file, headers: { "Content-Type": "application/octet-stream" } })).id;
    } catch (e) {
      showError($("error"), e);
      return;
    }
  }
  update();
}

const images = await api("/api/images");
$("digit").max = String(images.mnistCount - 1);
for (const s of images.samples) $("sample").add(new Option(s.label, s.id));
for (const p of panels) {
  for (const field of ["schedule", "timesteps", "beta-start", "beta-end", "zero-snr"]) {
    $(`${field}-${p.key}`).addEventListener("change", async () => { await loadSchedule(p); update(); });
  }
}
slider.addEventListener("input", update);
for (const id of ["source", "digit", "sample", "upload"]) $(id).addEventListener("change", chooseSource);
$("digit").addEventListener("input", () => { if ($("digit").value !== "") chooseSource(); }); // a typed digit shows at once
$("seed").addEventListener("change", update);
window.addEventListener("resize", update);
await Promise.all(panels.map(loadSchedule));
update();
document.body.dataset.ready = "1"; // listeners attached: tests wait for this
