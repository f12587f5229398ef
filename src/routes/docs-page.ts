/**
 * A self-contained reference page over /openapi.json: no CDN, so it works offline and
 * under a strict Content-Security-Policy. Requests can be tried with a token.
 */
export function docsPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>restage API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/app.css">
</head><body>
<h1>restage API</h1>
<p>Token (sent as <code>Authorization: Bearer …</code>): <input id="token" type="password" autocomplete="off"></p>
<div id="ops">Loading /openapi.json …</div>
<script src="/docs/app.js"></script>
</body></html>`;
}

/** The page's stylesheet, served as a file so the page's CSP needs no 'unsafe-inline' for styles either. */
export const DOCS_CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1000px;padding:1rem;color:#222}
h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #ddd}
details{border:1px solid #ddd;border-radius:6px;margin:.4rem 0;padding:.3rem .6rem}
summary{cursor:pointer} code,pre{font:12px ui-monospace,monospace} pre{background:#f6f6f6;padding:.5rem;overflow:auto}
.m{display:inline-block;min-width:4rem;font-weight:600;text-transform:uppercase}
input,textarea{font:12px ui-monospace,monospace;width:100%;box-sizing:border-box}
`;

/** The page's script, served as a file so the page's CSP needs no 'unsafe-inline' for scripts. */
export const DOCS_SCRIPT = `
(async () => {
  const spec = await (await fetch("/openapi.json")).json();
  const ops = document.getElementById("ops");
  ops.textContent = "";
  const byTag = {};
  for (const [path, item] of Object.entries(spec.paths)) for (const [method, op] of Object.entries(item)) (byTag[op.tags?.[0] ?? "Other"] ??= []).push({ path, method, op });
  for (const [tag, list] of Object.entries(byTag)) {
    const h = document.createElement("h2"); h.textContent = tag; ops.append(h);
    for (const { path, method, op } of list) {
      const d = document.createElement("details");
      const s = document.createElement("summary");
      s.innerHTML = '<span class="m"></span> <code></code> — <span></span>';
      s.children[0].textContent = method; s.children[1].textContent = path; s.children[2].textContent = op.summary ?? "";
      d.append(s);
      const pathInput = document.createElement("input"); pathInput.value = path;
      const body = document.createElement("textarea"); body.rows = 4; body.placeholder = "JSON body";
      const schema = op.requestBody?.content?.["application/json"]?.schema;
      const info = document.createElement("pre"); info.textContent = schema ? JSON.stringify(schema, null, 2) : "no body";
      const go = document.createElement("button"); go.textContent = "Send";
      const out = document.createElement("pre");
      go.onclick = async () => {
        const token = document.getElementById("token").value;
        const res = await fetch(pathInput.value, { method: method.toUpperCase(), headers: { authorization: "Bearer " + token, "content-type": "application/json" }, body: method === "get" ? undefined : body.value || undefined });
        out.textContent = res.status + " " + JSON.stringify(await res.json().catch(() => null), null, 2);
      };
      d.append(info, pathInput, ...(method === "get" ? [] : [body]), go, out);
      ops.append(d);
    }
  }
})();
`;
