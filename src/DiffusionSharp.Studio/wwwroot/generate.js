// The Generate page: POST /api/generate answers with server-sent events (queued, start, step…, done | error), read
// from the response body as it arrives. Cancel aborts the request; the server stops the generation at its next step,
// as it does when the tab closes.
import { $, api, errorOf, markHere, showError } from "/static/studio.js";

markHere();
let models = [], samplers = [], controller = null;

function onModel() {
  const m = models.find((x) => x.id === $("model").value);
  const cls = $("class");
  cls.length = 0;
  cls.add(new Option("none (unconditional)", ""));
  if (m && m.numClasses > 0) {
    for (let c = 0; c < m.numClasses; c++) cls.add(new Option(String(c), String(c)));
    cls.add(new Option("all (one row per class)", "all"));
    cls.value = m.numClasses > 3 ? "3" : "0";
  }
  $("ema").disabled = !(m && m.hasEma);
  $("ema").checked = !!(m && m.hasEma);
  // A Stable Diffusion pipeline takes a prompt (and no class); its guidance default is diffusers' 7.5.
  const text = !!(m && m.textToImage);
  for (const e of document.querySelectorAll(".text-only")) e.classList.toggle("hidden", !text);
  for (const e of document.querySelectorAll(".latent-only")) e.classList.toggle("hidden", !(m && m.vae));
  cls.disabled = text;
  $("guidance").value = text ? "7.5" : m && m.numClasses > 0 ? "3" : "1";
  // A 1-D (audio) model's pictures are waveforms above spectrograms: shown at their own size, not as square pixel art.
  for (const id of ["xt", "x0", "final"]) $(id).classList.toggle("wide", isAudio(m));
  if (m) $("steps").max = String(Math.min(m.numTrainTimesteps, limits.maxSteps));
  showError($("error"), m && m.error ? new Error(`${m.id}: ${m.error}`) : null);
}

function onSampler() {
  const s = samplers.find((x) => x.name === $("sampler").value);
  $("karras").disabled = !(s && s.karras);
  if ($("karras").disabled) $("karras").checked = false;
  $("eta").disabled = !(s && s.eta);
  if ($("eta").disabled) $("eta").value = "0";
}

function request() {
  const m = models.find((x) => x.id === $("model").value);
  const text = !!(m && m.textToImage);
  return {
    model: $("model").value,
    prompt: text ? $("prompt").value : null,
    negativePrompt: text && $("negative-prompt").value !== "" ? $("negative-prompt").value : null,
    ema: $("ema").checked,
    sampler: $("sampler").value || null,
    steps: Number($("steps").value),
    class: $("class").value || null,
    guidance: Number($("guidance").value),
    seed: Number($("seed").value),
    count: Number($("count").value),
    karras: $("karras").checked,
    eta: Number($("eta").value),
    spacing: $("spacing").value || null,
  };
}

const png = (base64) => `data:image/png;base64,${base64}`;
const isAudio = (m) => !!(m && m.sampleShape && m.sampleShape.length === 2);

// An audio model's clips: per clip its waveform and spectrogram, and a player of its WAV.
function showClips(clips) {
  const box = $("clips");
  box.replaceChildren();
  box.classList.toggle("hidden", !clips);
  for (const [i, clip] of (clips ?? []).entries()) {
    const figure = document.createElement("figure");
    const picture = new Image();
    picture.src = png(clip.png);
    picture.alt = `clip ${i + 1}: waveform and spectrogram`;
    const audio = document.createElement("audio");
    audio.controls = true;
    audio.preload = "metadata";
    audio.src = clip.wav;
    const caption = document.createElement("figcaption");
    caption.className = "muted";
    caption.textContent = `clip ${i + 1}, ${clip.seconds.toFixed(2)} s`;
    figure.append(picture, audio, caption);
    box.append(figure);
  }
}

function setRunning(running) {
  $("generate").disabled = running;
  $("cancel").disabled = !running;
}

async function generate() {
  showError($("error"), null);
  $("strip").replaceChildren();
  $("final-figure").classList.add("hidden");
  showClips(null);
  for (const id of ["step-counter", "timestep", "step-ms", "first-ms", "total"]) $(id).textContent = "–";
  $("state").textContent = "starting";
  $("state").className = "badge running";
  controller = new AbortController();
  setRunning(true);
  const started = performance.now();
  let first = null;
  try {
    const response = await fetch("/api/generate", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request()), signal: controller.signal,
    });
    if (!response.ok) throw await errorOf(response);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const name = /^event: (.*)$/m.exec(block)?.[1];
        const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "null");
        if (name === "queued") $("state").textContent = `waiting behind ${data.ahead}`;
        else if (name === "start") {
          $("state").textContent = `${data.sampler}, model loaded in ${Math.round(data.loadMs)} ms`;
          $("command").textContent = data.command;
        } else if (name === "step") {
          if (first === null) { first = performance.now() - started; $("first-ms").textContent = `${Math.round(first)} ms`; }
          $("xt").src = png(data.xt);
          if (data.x0) $("x0").src = png(data.x0);
          $("step-counter").textContent = `${data.index + 1} / ${data.count}`;
          $("timestep").textContent = String(Math.round(data.timestep * 10) / 10);
          $("step-ms").textContent = `${Math.round(data.stepMs)} ms`;
          const thumb = new Image();
          thumb.src = png(data.xt);
          thumb.dataset.index = String(data.index);
          thumb.dataset.batch = String(data.batch);
          thumb.title = `step ${data.index + 1}, t = ${data.timestep}`;
          $("strip").append(thumb);
        } else if (name === "done") {
          $("final").src = png(data.png);
          $("download").href = png(data.png);
          $("final-figure").classList.remove("hidden");
          showClips(data.clips);
          $("total").textContent = `${data.seconds.toFixed(2)} s`;
          $("state").textContent = "done";
          $("state").className = "badge finished";
        } else if (name === "error") {
          throw Object.assign(new Error(data.error), { field: data.field });
        }
      }
    }
  } catch (e) {
    if (e.name === "AbortError") {
      $("state").textContent = "cancelled";
      $("state").className = "badge";
    } else {
      $("state").textContent = "failed";
      $("state").className = "badge";
      showError($("error"), e);
    }
  } finally {
    controller = null;
    setRunning(false);
  }
}

const list = await api("/api/models");
const limits = list.limits;
models = list.models;
samplers = await api("/api/samplers");
const kind = (m) => m.textToImage ? "text to image" : m.numClasses > 0 ? `${m.numClasses} classes` : "unconditional";
const latent = (m) => m.vae && m.sampleShape && m.outputShape ? `, latent ${m.sampleShape.join("x")} → ${m.outputShape.join("x")} through ${m.vae}` : "";
for (const m of models) $("model").add(new Option(m.error ? `${m.id} (unreadable)` : `${m.id} (${m.className}, ${kind(m)}${latent(m)})`, m.id));
$("sampler").add(new Option("the folder's own", ""));
for (const s of samplers) $("sampler").add(new Option(s.name, s.name));
$("sampler").value = samplers.some((s) => s.name === "dpmpp-2m") ? "dpmpp-2m" : "";
$("count").max = String(limits.maxCount);
if (models.length === 0) showError($("error"), new Error(`no models in ${list.root}: start diffuse studio with --models DIR`));
$("model").addEventListener("change", onModel);
$("sampler").addEventListener("change", onSampler);
$("generate").addEventListener("click", generate);
$("cancel").addEventListener("click", () => controller?.abort());
onModel();
onSampler();
document.body.dataset.ready = "1";
