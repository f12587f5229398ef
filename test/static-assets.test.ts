/**
 * The pages' built files (dist/assets) reach the browser through the Worker from Workers
 * Static Assets (wrangler.toml [assets]): with no token, with the pages' security headers
 * (test/hardening.test.ts checks those), and only by GET.
 */
import { describe, expect, it } from "vitest";
import { call } from "./helpers";

describe("the pages' static files", () => {
  it.each([
    ["/docs/scalar.js", "javascript"],
    ["/dashboard/app.js", "javascript"],
    ["/dashboard/app.css", "text/css"],
  ])("%s comes from the assets folder, with no token", async (path, type) => {
    const answer = await call("GET", path, undefined, { token: null });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toContain(type);
    expect((answer.body as unknown as string).length).toBeGreaterThan(1000);
  });

  it("serves Scalar's browser build as /docs/scalar.js", async () => {
    const answer = await call("GET", "/docs/scalar.js", undefined, { token: null });
    expect(answer.body as unknown as string).toContain("createApiReference");
  });

  it("serves Scalar's bundle without the source-map comment whose map is not there", async () => {
    const answer = await call("GET", "/docs/scalar.js", undefined, { token: null });
    expect(answer.body as unknown as string).not.toMatch(/sourceMappingURL=\S+\s*$/);
  });

  it("has no other files: a path beside them is the API's 404", async () => {
    const answer = await call("GET", "/docs/scalar.js.map", undefined, { token: null });
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ message: "NOT_FOUND" });
  });
});
