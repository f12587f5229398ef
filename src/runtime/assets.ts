/**
 * The self-hosted servers' ASSETS binding: the files of a folder (dist/assets, filled by
 * scripts/build-assets.mjs) fetched by path, as Workers Static Assets serves the same folder
 * to the Worker (wrangler.toml [assets]). GET and HEAD only; a path outside the folder, or a
 * file that is not there, is 404.
 */
import { readFile } from "node:fs/promises";
import { extname, resolve, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** What the app calls on `env.ASSETS`. */
export interface AssetFetcher {
  fetch(request: Request): Promise<Response>;
}

/**
 * The files under `folder`, by the request's path.
 * @example const env = { ...vars, ASSETS: folderAssets("dist/assets") }; // GET /docs/scalar.js reads dist/assets/docs/scalar.js
 */
export function folderAssets(folder: string): AssetFetcher {
  const base = resolve(folder);
  return {
    async fetch(request) {
      if (request.method !== "GET" && request.method !== "HEAD") return new Response(null, { status: 405, headers: { allow: "GET, HEAD" } });
      const file = resolve(base, `.${decodeURIComponent(new URL(request.url).pathname)}`);
      if (!file.startsWith(base + sep)) return new Response(null, { status: 404 });
      let body: Uint8Array;
      try {
        body = await readFile(file);
      } catch {
        return new Response(null, { status: 404 });
      }
      const headers = { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "content-length": String(body.byteLength) };
      return new Response(request.method === "HEAD" ? null : body, { headers });
    },
  };
}
