/**
 * GET /docs: Scalar's API reference over /openapi.json. Scalar's self-contained browser
 * build is a static file of this origin (/docs/scalar.js, from dist/assets: see
 * scripts/build-assets.mjs): no CDN, so the page works offline and under the page's own
 * CSP (src/http/page-headers.ts).
 */

export function docsPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>restage API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
</head><body>
<div id="reference"></div>
<script src="/docs/scalar.js"></script>
<script src="/docs/app.js"></script>
</body></html>`;
}

/**
 * The page's own script (a file, so the CSP needs no inline script): Scalar configured to
 * reach nothing but this origin. No fonts from fonts.scalar.com, no proxy (try-it calls go
 * straight to this server), no telemetry, no AI agent, no MCP, no "open in client" link, no
 * developer toolbar. The server is the page's own origin, so path placeholders like {unit}
 * are filled in Scalar's form; the token goes in Scalar's auth box (bearer, from the
 * document's security scheme) and is kept only in the page's memory.
 */
export const DOCS_SCRIPT = `
Scalar.createApiReference("#reference", {
  url: "/openapi.json",
  servers: [{ url: location.origin, description: "this server" }],
  authentication: { preferredSecurityScheme: "bearer" },
  persistAuth: false,
  withDefaultFonts: false,
  telemetry: false,
  hideClientButton: true,
  showDeveloperTools: "never",
  agent: { disabled: true },
  mcp: { disabled: true },
  documentDownloadType: "json",
  operationTitleSource: "summary",
  defaultOpenAllTags: false,
});
`;
