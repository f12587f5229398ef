/**
 * The dashboard: queue views over the API itself. The page holds no data; it asks for a
 * token, keeps it in sessionStorage and sends it on its own API calls. Script served as a
 * file so the page's Content-Security-Policy needs no inline scripts.
 */
export function dashboardPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>restage dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/dashboard/app.css">
</head><body>
<header><h1>restage</h1>
<form id="login"><input id="token" type="password" placeholder="bearer token" autocomplete="off"> <button>Use token</button></form>
<span id="error" role="alert"></span></header>
<main>
<section><h2>Storage units</h2><table id="units"><thead><tr>
<th>unit</th><th>queue</th><th>paused</th><th>filling</th><th>pending</th><th>assigned</th><th>failed</th><th>processed</th><th>next run</th><th>last error</th><th></th>
</tr></thead><tbody></tbody></table>
<p><label>Unit (for a user token without admin rights): <input id="unit-name"></label> <button id="add-unit">Watch</button></p></section>
<section id="failed-section" hidden><h2>Failed items of <span id="failed-unit"></span></h2>
<table id="failed"><thead><tr><th>scope</th><th>key</th><th>attempts</th><th>failed at</th><th>last error</th></tr></thead><tbody></tbody></table></section>
</main>
<script src="/dashboard/app.js"></script>
</body></html>`;
}

export const DASHBOARD_CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d1d1f}
header{display:flex;gap:1rem;align-items:center;padding:.5rem 1rem;background:#f4f4f6;border-bottom:1px solid #ddd}
h1{font-size:1.2rem;margin:0} h2{font-size:1rem} main{padding:0 1rem}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eee;font-variant-numeric:tabular-nums}
td.err{color:#b00020;max-width:24rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
#error{color:#b00020} button{cursor:pointer}
`;

export const DASHBOARD_SCRIPT = `
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("restage-token") || "";
const watched = new Set(JSON.parse(sessionStorage.getItem("restage-units") || "[]"));
async function api(method, path) {
  const res = await fetch(path, { method, headers: { authorization: "Bearer " + token } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message + ": " + body.detail);
  return body;
}
function cell(row, text, cls) { const td = row.insertCell(); td.textContent = text ?? ""; if (cls) td.className = cls; return td; }
function button(td, label, action) { const b = document.createElement("button"); b.textContent = label; b.onclick = action; td.append(b, " "); }
async function unitNames() {
  try { return (await api("GET", "/admin/listStorageUnits")).storageUnits.map((u) => u.name).concat([...watched]); }
  catch { return [...watched]; }
}
async function refresh() {
  if (!token) return;
  $("error").textContent = "";
  const body = $("units").tBodies[0];
  const rows = [];
  for (const name of [...new Set(await unitNames())]) {
    try { rows.push([name, await api("GET", "/reprocess/status/" + encodeURIComponent(name))]); }
    catch (e) { rows.push([name, { error: e.message }]); }
  }
  body.textContent = "";
  for (const [name, s] of rows) {
    const row = body.insertRow();
    cell(row, name);
    if (s.error) { cell(row, s.error, "err").colSpan = 10; continue; }
    cell(row, s.enabled ? "enabled" : "disabled"); cell(row, s.paused ? "yes" : "no"); cell(row, s.filling ? s.fillRemaining + " to come" : "no");
    for (const n of [s.pending, s.assigned, s.failed, s.processed]) cell(row, String(n));
    cell(row, s.nextRunAt ? new Date(s.nextRunAt).toLocaleTimeString() : "—");
    cell(row, s.lastError, "err").title = s.lastError || "";
    const actions = row.insertCell();
    const u = encodeURIComponent(name);
    button(actions, s.paused ? "Resume" : "Pause", () => act("PUT", "/reprocess/" + (s.paused ? "resume/" : "pause/") + u));
    button(actions, "Reset", () => act("POST", "/reprocess/reset/" + u));
    button(actions, "Retry failed", () => act("POST", "/reprocess/retryFailed/" + u));
    button(actions, "Failed items", () => showFailed(name));
  }
}
async function act(method, path) { try { await api(method, path); } catch (e) { $("error").textContent = e.message; } refresh(); }
async function showFailed(name) {
  try {
    const { items } = await api("GET", "/reprocess/failed/" + encodeURIComponent(name) + "?limit=100");
    $("failed-unit").textContent = name; $("failed-section").hidden = false;
    const body = $("failed").tBodies[0]; body.textContent = "";
    if (items.length === 0) cell(body.insertRow(), "no failed items").colSpan = 5;
    for (const i of items) { const r = body.insertRow(); cell(r, i.scope); cell(r, i.key); cell(r, String(i.attempts)); cell(r, i.failedAt); cell(r, i.lastError, "err").title = i.lastError || ""; }
  } catch (e) { $("error").textContent = e.message; }
}
$("login").onsubmit = (e) => { e.preventDefault(); token = $("token").value.trim(); sessionStorage.setItem("restage-token", token); refresh(); };
$("add-unit").onclick = () => { const n = $("unit-name").value.trim(); if (n) { watched.add(n); sessionStorage.setItem("restage-units", JSON.stringify([...watched])); refresh(); } };
refresh(); setInterval(refresh, 3000);
`;
