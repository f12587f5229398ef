/** The self-hosted server's share of open files (src/runtime/open-files.ts) and its setting RESTAGE_MAX_LIVE_OBJECTS. */
import { describe, expect, it } from "vitest";
import { readServerConfig } from "../../src/runtime/config";
import { defaultMaxLiveObjects, openFailure, openFileLimit } from "../../src/runtime/open-files";

describe("the cap on live objects", () => {
  it("gives the objects' files half the file limit, 3 files each, between 16 and 1024", () => {
    expect(defaultMaxLiveObjects(600)).toBe(100);
    expect(defaultMaxLiveObjects(64)).toBe(16);
    expect(defaultMaxLiveObjects(1_048_576)).toBe(1024);
    expect(defaultMaxLiveObjects(Number.POSITIVE_INFINITY)).toBe(1024);
    expect(defaultMaxLiveObjects(undefined)).toBe(256);
  });

  it("reads this process's limit where the platform tells it", () => {
    const limit = openFileLimit();
    if (process.platform === "linux") expect(limit).toBeGreaterThan(0);
  });

  it("takes RESTAGE_MAX_LIVE_OBJECTS when set, and refuses a malformed one saying what it must be", () => {
    expect(readServerConfig({}, 600)).toMatchObject({ maxLiveObjects: 100, fileLimit: 600 });
    expect(readServerConfig({ RESTAGE_MAX_LIVE_OBJECTS: "40" }, 600)).toMatchObject({ maxLiveObjects: 40 });
    for (const value of ["0", "-3", "1.5", "many"]) {
      expect(() => readServerConfig({ RESTAGE_MAX_LIVE_OBJECTS: value }, 600)).toThrow(
        /RESTAGE_MAX_LIVE_OBJECTS must be a whole number of at least 1/,
      );
    }
  });
});

describe("an open that failed for want of files", () => {
  it("is told from other errors, without the path", () => {
    expect(openFailure(Object.assign(new Error("EMFILE: too many open files, open '/data/x'"), { code: "EMFILE" }))).toBe(
      "too many open files (EMFILE)",
    );
    expect(openFailure(new Error("ENFILE: file table overflow"))).toBe("the system's table of open files is full (ENFILE)");
    expect(openFailure(new Error("unable to open database file"))).toBe("SQLite could not open a database file (SQLITE_CANTOPEN)");
    expect(openFailure(new Error("no such table: t"))).toBeUndefined();
    expect(openFailure("a string")).toBeUndefined();
  });
});
