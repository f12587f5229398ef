/**
 * The OpenAPI document's description: the first thing `GET /docs` shows. It says how to
 * start, how to authenticate, one round trip, the error shape with every code, and the
 * typed client, so a reader can call the API without the repository at hand. The codes
 * come from the one table of them (errors.ts), so the page cannot list a stale one.
 */
import { ERROR_STATUS, type ErrorCode } from "../errors";

/** A shard's answer that the Worker acts on itself: no client ever receives it. */
const INTERNAL_CODES: ReadonlySet<ErrorCode> = new Set(["MOVED"]);

/** `| 404 | \`STORAGE_UNIT_DOESNT_EXIST\`, ... |` rows, by status. */
function errorRows(): string {
  const byStatus = new Map<number, string[]>();
  for (const [code, status] of Object.entries(ERROR_STATUS) as Array<[ErrorCode, number]>) {
    if (INTERNAL_CODES.has(code)) continue;
    byStatus.set(status, [...(byStatus.get(status) ?? []), `\`${code}\``]);
  }
  return [...byStatus]
    .sort(([a], [b]) => a - b)
    .map(([status, codes]) => `| ${status} | ${codes.join(", ")} |`)
    .join("\n");
}

/**
 * The description (Markdown) for a document served at `origin`, whose examples call that server.
 * @example apiDescription("http://127.0.0.1:8787")
 */
export function apiDescription(origin: string): string {
  return `A content staging repository: store content extracted from source systems once, in a **storage unit**, and reprocess it at any time through the module pipeline configured for each **scope** — one key, a list of keys, or the whole unit — without going back to the source.

## Quick start

From a clone of the repository:

\`\`\`sh
npm ci
npm run dev    # serves http://127.0.0.1:8787, writes .dev.vars with a new ADMIN_TOKEN and prints it
\`\`\`

(\`ADMIN_TOKEN=... npm run serve:node\` serves the same API self-hosted on Node; \`serve:bun\` and \`serve:deno\` on Bun and Deno.)

Every route but \`/health\`, \`/openapi.json\`, \`/docs\` and \`/dashboard\` needs \`Authorization: Bearer <token>\`: the admin token (\`ADMIN_TOKEN\`), or a user's token from \`PUT /security/user/{user}\`. On this page, paste it in the Authentication box, then use "Test Request" on any operation.

A round trip with curl:

\`\`\`sh
T=<the admin token>
curl -s -X PUT -H "authorization: Bearer $T" ${origin}/admin/createStorageUnit/docs
# {"message":"OK"}
curl -s -X POST -H "authorization: Bearer $T" -H 'content-type: application/json' \\
  ${origin}/transaction/add/docs/raw -d '{"key":"doc-1","content":{"title":"Hello"}}'
# {"message":"OK"}
curl -s -H "authorization: Bearer $T" ${origin}/access/fetch/docs/doc-1
# {"message":"OK","key":"doc-1","content":{"raw":{"title":"Hello"}},"meta":{"raw":{"version":...,"updatedAt":"..."}}}
\`\`\`

Keys travel percent-encoded in paths (\`encodeURIComponent\`: \`a/b c\` is \`a%2Fb%20c\`).

## Errors

Every error is \`{"message":"<CODE>","detail":"<what was wrong and how to fix it>"}\`:

| status | message |
|---|---|
${errorRows()}

## Typed client

\`restage/client\` types every path, parameter, body and answer from the same route definitions as this document, so a misspelt field fails \`tsc\`. It is an ES module with declarations for Node 22, Bun, Deno and browsers: \`npm pack\` in the repository's \`packages/client\`, then \`npm install\` the tarball (the README, "The client in another project"):

\`\`\`ts
import { data, restageClient } from "restage/client";

const restage = restageClient({ baseUrl: "${origin}", token: process.env.ADMIN_TOKEN! });
await data(restage.api.admin.createStorageUnit[":unit"].$put({ param: { unit: "docs" }, json: {} }));
const status = await data(restage.api.reprocess.status[":unit"].$get({ param: { unit: "docs" } }));
status.pending; // number
\`\`\`

\`data()\` returns the 200 body or throws a \`RestageError\` with \`status\`, \`code\` and \`detail\`. The whole contract, with the queue's semantics and the limits, is \`docs/API.md\` in the repository.`;
}
