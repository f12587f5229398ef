import { describe, expect, it } from "vitest";
import { call, createUnit } from "./helpers";

describe("smoke", () => {
  it("round trip", async () => {
    const unit = await createUnit();
    expect((await call("PUT", `/transaction/add/${unit}/raw`, { key: "a/b", content: { x: 1 } })).status).toBe(200);
    const got = await call("GET", `/access/fetch/${unit}/${encodeURIComponent("a/b")}`);
    expect(got.status).toBe(200);
    expect(got.body.content.raw).toEqual({ x: 1 });
    expect((await call("GET", "/health", undefined, { token: null })).status).toBe(200);
    const doc = await call("GET", "/openapi.json", undefined, { token: null });
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths).length).toBeGreaterThan(10);
  });
});
