import { $, api } from "/static/studio.js";

const status = await api("/api/status");
$("folders").textContent = `Models from ${status.models}; runs from ${status.runs}.`;
