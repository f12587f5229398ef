/**
 * /openapi.json describes each operation fully (API.md, "Typed API"): an operationId, the
 * error answers it can give, and a 200 schema naming every field the real answer holds.
 * `npm run lint:openapi` runs Redocly's recommended rules on the same document.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { addRecord, call, createUnit, uniqueUnit } from "./helpers";

type Doc = { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, any> }; servers: Array<{ url: string }> };
let doc: Doc;

beforeAll(async () => {
  doc = (await call<Doc>("GET", "/openapi.json", undefined, { token: null })).body;
});

/** The 200 schema of an operation, with a top-level $ref resolved. */
function answerSchema(path: string, method: string): { properties: Record<string, unknown>; required?: string[] } {
  const schema = doc.paths[path]![method]!.responses["200"].content["application/json"].schema;
  return schema.$ref ? doc.components.schemas[schema.$ref.split("/").pop()] : schema;
}

describe("the OpenAPI document", () => {
  it("gives every operation a unique operationId, and every guarded one its 400/401/403 answers in the error envelope", () => {
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
    );
    expect(operations.length).toBeGreaterThan(50);
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(ids.every((id) => typeof id === "string" && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { path, operation } of operations.filter(({ operation }) => operation.security?.length)) {
      // whoami answers any valid token: it has no 403 to document
      const statuses = path === "/security/whoami" ? ["200", "401"] : ["200", "401", "403"];
      expect(Object.keys(operation.responses), path).toEqual(expect.arrayContaining(statuses));
      const unauthorized = operation.responses["401"].content["application/json"].schema;
      expect(unauthorized.properties.message.enum).toEqual(["UNAUTHORIZED"]);
      expect(unauthorized.required).toEqual(["message", "detail"]);
    }
    expect(doc.paths["/transaction/add/{unit}/{scope}"]!.put.responses["409"].content["application/json"].schema.properties.message.enum).toEqual(
      expect.arrayContaining(["KEY_ALREADY_EXISTS", "NEWER_VERSION_ALREADY_EXISTS"]),
    );
    expect(doc.servers[0]!.url).toBe("https://restage.test");
  });

  it("lets a content be any JSON object", () => {
    expect(doc.components.schemas.AddBody.properties.content).toMatchObject({ type: "object", additionalProperties: true });
  });

  it("names in each 200 schema every field the real answer holds", async () => {
    const unit = await createUnit({ reprocessingQueue: true });
    await call("POST", `/admin/setContentProcessingModules/${unit}`, { modules: { raw: [] } });
    await addRecord(unit, "raw", { key: "k1", content: { n: 1 } });
    const reads: Array<[method: string, path: string, url: string, body?: unknown]> = [
      ["get", "/reprocess/status/{unit}", `/reprocess/status/${unit}`],
      ["get", "/admin/getStorageUnit/{unit}", `/admin/getStorageUnit/${unit}`],
      ["get", "/admin/listStorageUnits", "/admin/listStorageUnits"],
      ["get", "/access/fetch/{unit}/{key}", `/access/fetch/${unit}/k1`],
      ["get", "/access/fetchPage/{unit}", `/access/fetchPage/${unit}?batchSize=1`],
      ["get", "/reprocess/failed/{unit}", `/reprocess/failed/${unit}`],
      ["get", "/admin/getContentProcessingModules/{unit}", `/admin/getContentProcessingModules/${unit}`],
      ["get", "/admin/getReprocessSchedule/{unit}", `/admin/getReprocessSchedule/${unit}`],
      ["post", "/reprocess/keys/{unit}/{scope}", `/reprocess/keys/${unit}/raw`, { keys: ["k1", "nope"] }],
      ["post", "/transaction/batch/{unit}", `/transaction/batch/${unit}`, '{"action":"delete","scope":"raw","key":"k1"}\n{"bad":1}'],
    ];
    for (const [method, path, url, body] of reads) {
      const answer = await call(method.toUpperCase(), url, body);
      expect(answer.status, url).toBe(200);
      const schema = answerSchema(path, method);
      expect(Object.keys(schema.properties), path).toEqual(expect.arrayContaining(Object.keys(answer.body)));
      expect(Object.keys(answer.body), path).toEqual(expect.arrayContaining(schema.required ?? []));
    }
  });
});

describe("the document's description, the first thing /docs shows", () => {
  type Info = { info: { description: string } };

  it("gives a quick start, the bearer token, the error shape with every code a client can get, and the typed client", async () => {
    const { description } = (await call<Info>("GET", "/openapi.json", undefined, { token: null })).body.info;
    for (const part of [
      "## Quick start",
      "npm ci",
      "npm run dev",
      "Authorization: Bearer <token>",
      "## Errors",
      '{"message":"<CODE>","detail":',
      "## Typed client",
    ])
      expect(description).toContain(part);
    for (const code of [
      "INVALID_REQUEST",
      "UNAUTHORIZED",
      "STORAGE_UNIT_DOESNT_EXIST",
      "NOT_FOUND",
      "PAYLOAD_TOO_LARGE",
      "STORAGE_FULL",
      "OVERLOADED",
    ])
      expect(description).toContain(`\`${code}\``);
    // a shard's answer to a stale route: the Worker handles it, no client ever sees it
    expect(description).not.toContain("MOVED");
    expect(description).toContain('import { data, restageClient } from "restage/client"');
    expect(description).toContain('restageClient({ baseUrl: "https://restage.test"');
  });

  it("shows a curl round trip at this server that answers as written", async () => {
    const { description } = (await call<Info>("GET", "/openapi.json", undefined, { token: null })).body.info;
    const unit = uniqueUnit("quick");
    const commands = [
      ...description.matchAll(/curl -s (?:-X (\w+) )?[^\n]*?(?:\\\n\s*)?https:\/\/restage\.test(\/\S+)(?: -d '([^']*)')?\n# (\{.*\})/g),
    ];
    expect(commands).toHaveLength(3);
    for (const [, method = "GET", path, body, shown] of commands) {
      const answer = await call(method, path!.replace("/docs", `/${unit}`), body === undefined ? undefined : JSON.parse(body));
      const pattern = new RegExp(
        `^${shown!
          .split("...")
          .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
          .join(".*")}$`,
      );
      expect(JSON.stringify(answer.body).replaceAll(unit, "docs"), `${method} ${path}`).toMatch(pattern);
    }
  });
});
