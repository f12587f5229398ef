/**
 * Hardening that the route tests do not show: errors from inside a unit never leak
 * internals, CORS is off unless allowed, and the HTML pages carry a strict CSP.
 */
import { env } from "cloudflare:workers";
import { createExecutionContext, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import type { Env } from "../src/env";
import { ADMIN_TOKEN, call, createUnit, unitStub } from "./helpers";
import { createUser, grant } from "./security-helpers";
import { captureLogs } from "./support/logs";

describe("errors from inside a storage unit", () => {
  afterEach(() => vi.restoreAllMocks());

  it("answer 500 INTERNAL_ERROR with no SQL, table names or stack, for the admin and for a user", async () => {
    const logs = captureLogs();
    const unit = await createUnit();
    const alice = await createUser();
    await grant("rw", alice.name, unit);
    // a broken database stands for any bug inside the Durable Object: the error crosses RPC
    await runInDurableObject(unitStub(unit), async (_instance, state) => {
      state.storage.sql.exec("DROP TABLE records");
    });
    for (const token of [ADMIN_TOKEN, alice.token]) {
      const answer = await call("GET", `/access/fetch/${unit}/k1`, undefined, { token });
      expect(answer.status).toBe(500);
      expect(answer.body).toEqual({ message: "INTERNAL_ERROR", detail: expect.any(String) });
      expect(JSON.stringify(answer.body)).not.toMatch(/records|sqlite|no such table|select|\.ts|\bat\s/i);
    }
    // the operator sees what the client does not
    expect(logs.of("unhandled").map((entry) => entry.error)).toEqual([
      expect.stringContaining("no such table"),
      expect.stringContaining("no such table"),
    ]);
  });

  it("answer 500 without internals when the unit's stored configuration is unreadable", async () => {
    const logs = captureLogs();
    const unit = await createUnit();
    await runInDurableObject(unitStub(unit), async (_instance, state) => {
      state.storage.sql.exec("UPDATE unit SET settings = '{not json'");
    });
    // the unit caches its configuration: a fresh instance reads the broken row
    await evictDurableObject(unitStub(unit));
    const answer = await call("GET", `/reprocess/status/${unit}`);
    expect(answer.status).toBe(500);
    expect(JSON.stringify(answer.body)).not.toMatch(/JSON|position|settings|SyntaxError/);
    expect(logs.of("unhandled")).toEqual([
      expect.objectContaining({ path: `/reprocess/status/${unit}`, error: expect.stringContaining("SyntaxError") }),
    ]);
  });
});

/** The app with extra variables, as `wrangler.toml` [vars] or a secret would give them. */
async function fetchWith(vars: Partial<Env>, request: Request): Promise<Response> {
  return createApp().fetch(request, { ...(env as unknown as Env), ...vars }, createExecutionContext());
}

const preflight = (origin: string) =>
  new Request("https://restage.test/transaction/add/u1/raw", {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "PUT", "access-control-request-headers": "authorization, content-type" },
  });
const fromOrigin = (origin: string) =>
  new Request("https://restage.test/admin/listStorageUnits", { headers: { origin, authorization: `Bearer ${ADMIN_TOKEN}` } });

describe("CORS", () => {
  it("is off by default: no Access-Control headers, preflights are not answered", async () => {
    const answer = await fetchWith({}, preflight("https://app.example"));
    expect(answer.status).toBe(405);
    expect(answer.headers.get("access-control-allow-origin")).toBeNull();
    const get = await fetchWith({}, fromOrigin("https://app.example"));
    expect(get.status).toBe(200);
    expect(get.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("allows exactly the origins of CORS_ORIGINS, with the Authorization header", async () => {
    const vars = { CORS_ORIGINS: "https://app.example, https://other.example" };
    const allowed = await fetchWith(vars, preflight("https://other.example"));
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://other.example");
    expect(allowed.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    expect(allowed.headers.get("access-control-allow-methods")).toContain("PUT");
    const get = await fetchWith(vars, fromOrigin("https://app.example"));
    expect(get.status).toBe(200);
    expect(get.headers.get("access-control-allow-origin")).toBe("https://app.example");

    for (const stranger of ["https://evil.example", "https://app.example.evil.example", "null"]) {
      const refused = await fetchWith(vars, preflight(stranger));
      expect(refused.headers.get("access-control-allow-origin"), stranger).toBeNull();
      expect((await fetchWith(vars, fromOrigin(stranger))).headers.get("access-control-allow-origin"), stranger).toBeNull();
    }
  });

  it("does not let an allowed origin skip authentication", async () => {
    const answer = await fetchWith(
      { CORS_ORIGINS: "https://app.example" },
      new Request("https://restage.test/admin/listStorageUnits", { headers: { origin: "https://app.example" } }),
    );
    expect(answer.status).toBe(401);
  });
});

describe("security headers on the pages", () => {
  const checkHeaders = async (path: string) => {
    const answer = await call("GET", path, undefined, { token: null });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
    expect(answer.headers.get("x-frame-options")).toBe("DENY");
    expect(answer.headers.get("referrer-policy")).toBe("no-referrer");
    const csp = answer.headers.get("content-security-policy") ?? "";
    for (const directive of [
      "default-src 'none'",
      "script-src 'self';",
      "connect-src 'self';",
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "object-src 'none'",
    ]) {
      expect(csp).toContain(directive);
    }
    // no directive names another host, or any host at all
    expect(csp).not.toMatch(/https?:|\*/);
    return csp;
  };

  it.each(["/dashboard", "/dashboard/app.js", "/dashboard/app.css"])("%s carries a strict Content-Security-Policy", async (path) => {
    const csp = await checkHeaders(path);
    expect(csp).toContain("style-src 'self';");
    expect(csp).not.toContain("unsafe");
  });

  it.each(["/docs", "/docs/app.js", "/docs/scalar.js"])("%s carries a CSP loosened only for the styles Scalar writes", async (path) => {
    const csp = await checkHeaders(path);
    expect(csp).toContain("style-src 'self' 'unsafe-inline';");
    expect(csp.replace("style-src 'self' 'unsafe-inline';", "")).not.toContain("unsafe");
  });

  it.each(["/docs", "/dashboard"])("%s has nothing inline that its CSP would block", async (path) => {
    const html = (await call("GET", path, undefined, { token: null })).body as unknown as string;
    expect(html).toMatch(/<script src="[^"]+"><\/script>/);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  });
});

describe("percent-encoding and Unicode in names and keys", () => {
  it("refuses a path or query whose percent-encoding is not UTF-8, rather than reading it as typed", async () => {
    const unit = await createUnit();
    await call("PUT", `/transaction/add/${unit}/raw`, { key: "%FF", content: { literal: true } });
    for (const path of [
      `/access/fetch/${unit}/%FF`,
      `/access/fetch/${unit}/%zz`,
      `/access/fetch/${unit}/%E0%A4%A`,
      `/access/fetch/${unit}/%ED%A0%80`,
      `/access/fetchMultiple/${unit}?keys=k1,%C0%AF`,
      `/access/fetchPage/${unit}?startId=%FF`,
    ]) {
      const answer = await call("GET", path);
      expect(answer.status, path).toBe(400);
      expect(answer.body.detail, path).toContain("percent-encoded");
    }
    // the literal key is reachable through its proper encoding
    expect((await call("GET", `/access/fetch/${unit}/%25FF`)).body.content).toEqual({ raw: { literal: true } });
  });

  it("refuses keys holding an unpaired surrogate, in a body and in a batch, so no two keys collide in storage", async () => {
    const unit = await createUnit();
    for (const key of ["\ud800", "a\udc00b", "\udbff"]) {
      const answer = await call("PUT", `/transaction/add/${unit}/raw`, JSON.stringify({ key, content: {} }));
      expect(answer.status).toBe(400);
      expect(answer.body.detail).toContain("surrogate");
    }
    const batch = await call("POST", `/transaction/batch/${unit}`, JSON.stringify({ action: "add", scope: "raw", key: "\ud800", content: {} }));
    expect(batch.body).toMatchObject({ message: "COMPLETED_WITH_ERRORS", count: 0 });
    expect((await call("GET", `/access/fetchPage/${unit}`)).body.records).toEqual([]);
    // a surrogate pair is fine
    expect((await call("PUT", `/transaction/add/${unit}/raw`, JSON.stringify({ key: "\ud83d\udce6", content: {} }))).status).toBe(200);
  });
});
