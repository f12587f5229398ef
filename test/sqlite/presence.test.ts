/**
 * The unit's place on the registry's list of units the cron visits (src/unit/presence.ts),
 * with a fake registry: listed once per instance, a failed listing logged and tried again
 * on the next activity, unlisted when a visit finds the unit idle.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { Presence, type RegistryPort } from "../../src/unit/presence";
import { captureLogs } from "../support/logs";

/** A registry that records each call and fails the next `failures` of them. */
function fakeRegistry() {
  const calls: Array<[string, boolean]> = [];
  const registry: RegistryPort & { calls: typeof calls; failures: number } = {
    calls,
    failures: 0,
    setActive(name: string, active: boolean): Promise<void> {
      calls.push([name, active]);
      if (registry.failures > 0) {
        registry.failures--;
        return Promise.reject(new Error("registry unavailable"));
      }
      return Promise.resolve();
    },
  };
  return registry;
}

/** Lets the not-awaited registry call settle. */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

let registry: ReturnType<typeof fakeRegistry>;
let name: string | undefined;
let presence: Presence;
let logs: ReturnType<typeof captureLogs>;

beforeEach(() => {
  registry = fakeRegistry();
  name = "docs";
  presence = new Presence({ unitName: () => name, registry });
  logs = captureLogs();
});

describe("a unit's presence on the registry's list", () => {
  it("is told to the registry once per instance, however much activity follows", async () => {
    presence.noteActivity();
    presence.noteActivity();
    await settle();
    presence.noteActivity();
    expect(registry.calls).toEqual([["docs", true]]);
  });

  it("is not told for a unit that does not exist", async () => {
    name = undefined;
    presence.noteActivity();
    await presence.unlist();
    expect(registry.calls).toEqual([]);
  });

  it("a failed listing is logged and tried again on the next activity", async () => {
    registry.failures = 1;
    presence.noteActivity();
    await settle();
    expect(logs.entries).toEqual([{ level: "error", event: "registry-set-active-failed", unit: "docs", error: "Error: registry unavailable" }]);
    presence.noteActivity();
    await settle();
    presence.noteActivity();
    expect(registry.calls).toEqual([
      ["docs", true],
      ["docs", true],
    ]);
    expect(logs.entries).toHaveLength(1);
  });

  it("is taken off when idle, once, and told again on new activity", async () => {
    presence.noteActivity();
    await presence.unlist();
    await presence.unlist();
    presence.noteActivity();
    await presence.unlist();
    expect(registry.calls).toEqual([
      ["docs", true],
      ["docs", false],
      ["docs", true],
      ["docs", false],
    ]);
  });

  it("an idle unit never listed by this instance is unlisted all the same (another may have listed it)", async () => {
    await presence.unlist();
    expect(registry.calls).toEqual([["docs", false]]);
  });

  it("is told again after the unit is deleted and created anew", async () => {
    presence.noteActivity();
    presence.forget();
    presence.noteActivity();
    expect(registry.calls).toEqual([
      ["docs", true],
      ["docs", true],
    ]);
  });
});
