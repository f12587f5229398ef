/** The content limit's measure (src/limits.ts): a JSON text's bytes in UTF-8, counted without encoding it. */
import { describe, expect, it } from "vitest";
import { contentTooLarge, jsonBytes, LIMITS } from "../src/limits";

describe("jsonBytes", () => {
  it("counts the bytes TextEncoder writes, for every width of character and for lone surrogates", () => {
    const texts = [
      "",
      "plain",
      "é",
      "ß€",
      "日本語",
      "🦊",
      "a🦊b",
      "\ud800",
      "x\udc00y",
      "\ud83e",
      "\ud83e\ud83e\udd8a",
      "\u007f\u0080\u07ff\u0800\uffff",
      JSON.stringify({ t: "Größe 🦊".repeat(1000) }),
    ];
    for (const text of texts) expect(jsonBytes(text), JSON.stringify(text)).toBe(new TextEncoder().encode(text).length);
  });

  it("sets the content limit in bytes, so a document of wide characters meets it sooner", () => {
    const ascii = JSON.stringify("a".repeat(LIMITS.contentBytes - 2));
    expect(contentTooLarge(ascii)).toBeUndefined();
    expect(contentTooLarge(JSON.stringify("a".repeat(LIMITS.contentBytes - 1)))).toMatch(/^content is 1048577 bytes as JSON/);
    expect(contentTooLarge(JSON.stringify("é".repeat(LIMITS.contentBytes / 2)))).toMatch(/^content is 1048578 bytes as JSON/);
  });
});
