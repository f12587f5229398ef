/**
 * Property-based tests of the whole HTTP surface: random methods, paths (from the OpenAPI
 * document's routes, with valid and hostile segments), query strings, headers, tokens and
 * bodies (JSON, malformed JSON, deep nesting, bodies past the limits, bytes that are not
 * UTF-8). Whatever comes in: never a 5xx, every error says `message` and `detail`, and a
 * refused request leaves the target unit, its queue and the users exactly as they were.
 */
import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createUnit, unitStub, uniqueUnit } from "./helpers";
import { ADMIN_CALL } from "../src/unit/grants";
import { createUser, grant, uniqueUser, unknownToken } from "./security-helpers";

const BASE = "https://restage.test";
const MiB = 1024 * 1024;

let victim: string;
let otherUnit: string;
let targetUser: string;
let templates: Array<{ method: string; path: string }>;
let tokens: string[];
let userTokens: { r: string; w: string; rw: string; none: string; names: Record<"r" | "w" | "rw", string> };

/** Keys the victim unit holds, awkward ones included. */
const SEEDED_KEYS = ["k1", "a/b", "with space", "ünï©ødé", "comma,key", "%41"];

beforeAll(async () => {
  victim = await createUnit({ contentProcessing: false, reprocessingQueue: false }, uniqueUnit("fuzz"));
  otherUnit = await createUnit({}, uniqueUnit("fuzz-other"));
  const [none, r, w, rw, target] = await Promise.all([createUser(), createUser(), createUser(), createUser(), createUser(uniqueUser("fuzz-target"))]);
  userTokens = { none: none.token, r: r.token, w: w.token, rw: rw.token, names: { r: r.name, w: w.name, rw: rw.name } };
  targetUser = target.name;
  await restoreVictim();
  tokens = [ADMIN_TOKEN, none.token, r.token, w.token, rw.token, unknownToken()];
  const doc = await call("GET", "/openapi.json", undefined, { token: null });
  templates = Object.entries(doc.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
    Object.keys(item).map((method) => ({ method: method.toUpperCase(), path })),
  );
});

/** Puts the victim back in its known shape after an accepted request: present, seeded, granted, inert queue. */
async function restoreVictim(): Promise<void> {
  const stub = unitStub(victim);
  if ("error" in (await stub.info(ADMIN_CALL))) await createUnit({ contentProcessing: false, reprocessingQueue: false }, victim);
  // a paused job, a disabled queue and no pipelines: nothing changes the unit behind the test's back
  await stub.setPaused(ADMIN_CALL, true);
  await stub.setFlag(ADMIN_CALL, "reprocessingQueue", false);
  await stub.setFlag(ADMIN_CALL, "contentProcessing", false);
  await stub.setModules(ADMIN_CALL, { modules: {}, settings: {} });
  for (const key of SEEDED_KEYS) {
    if ("error" in (await stub.fetchRecord(ADMIN_CALL, key)))
      await stub.add(ADMIN_CALL, "raw", { key, contentJson: JSON.stringify({ seeded: true }), policy: "merge", version: 0 });
  }
  for (const permission of ["r", "w", "rw"] as const) await grant(permission, userTokens.names[permission], victim);
}

/** Everything a request could change about the victim, and the users. */
async function snapshot(): Promise<string> {
  const stub = unitStub(victim);
  const registry = env.REGISTRY.get(env.REGISTRY.idFromName("registry"));
  const [info, page, modules, schedules, failed, users] = await Promise.all([
    stub.info(ADMIN_CALL),
    stub.fetchPage(ADMIN_CALL, undefined, 1000),
    stub.getModules(ADMIN_CALL),
    stub.getSchedules(ADMIN_CALL),
    stub.failedItems(ADMIN_CALL, 1000),
    registry.listUsers(),
  ]);
  const ours = users.filter((user) => Object.keys(user.grants).includes(victim) || user.name === targetUser);
  return JSON.stringify({ info, page, modules, schedules, failed, users: ours });
}

// ── arbitraries ──────────────────────────────────────────────────────────────

const hostileSegments = fc.constantFrom(
  "%",
  "%zz",
  "%E0%A4%A",
  "%FF",
  "%C0%AF",
  "%ED%A0%80",
  "%00",
  "%0A",
  "%2F",
  "%2e%2e",
  "..",
  ".",
  "$record",
  "-leading-dash",
  "a".repeat(65),
  "k".repeat(600),
  "%F0%9F%92%A9",
  "true",
  "false",
  "r",
  "w",
  "rw",
  "x",
);

/** A value for one path parameter: usually plausible, often hostile. */
const segment = (name: string) =>
  fc.oneof(
    {
      weight: 12,
      arbitrary: fc.constant(
        name === "unit"
          ? "VICTIM"
          : name === "user"
            ? "TARGET"
            : name === "key"
              ? "k1"
              : name === "scope"
                ? "raw"
                : name === "permission"
                  ? "rw"
                  : "true",
      ),
    },
    { weight: 1, arbitrary: fc.constant("OTHER") },
    { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,12}$/) },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
    { weight: 3, arbitrary: hostileSegments },
  );

const anyMethod = fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD");

/** Mostly a route's own method and path shape; sometimes any method, a path with one more segment, or no route at all. */
const routeArbitrary = () =>
  fc.oneof(
    {
      weight: 12,
      arbitrary: fc.constantFrom(...templates).chain(({ method, path }) => fillTemplate(path).map((filled) => ({ method, path: filled }))),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          anyMethod,
          fc.constantFrom(...templates).chain(({ path }) => fillTemplate(path)),
        )
        .map(([method, path]) => ({ method, path })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          anyMethod,
          fc.array(fc.oneof(segment("any"), fc.constantFrom("admin", "access", "transaction", "reprocess", "security")), { maxLength: 6 }),
        )
        .map(([method, parts]) => ({ method, path: `/${parts.join("/")}` })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          anyMethod,
          fc.constantFrom(...templates).chain(({ path }) => fillTemplate(path)),
          segment("any"),
        )
        .map(([method, path, extra]) => ({ method, path: `${path}/${extra}` })),
    },
  );

function fillTemplate(template: string): fc.Arbitrary<string> {
  const names = [...template.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!);
  return fc.tuple(...names.map(segment)).map((values) => {
    let index = 0;
    return template.replace(/\{\w+\}/g, () => values[index++]!);
  });
}

const queryValue = fc.oneof(
  fc.constantFrom("k1", "k1,a%2Fb", ",", "", "0", "-1", "1001", "10", "abc", "2026-01-01T00:00:00Z", "not-a-date", "%zz", "%FF%FE", "%00"),
  fc.string({ unit: "binary", maxLength: 30 }).map(encodeURIComponent),
  fc.string({ maxLength: 30 }),
);
const queryArbitrary = fc
  .array(fc.tuple(fc.constantFrom("keys", "startId", "batchSize", "prefix", "since", "limit", "cursor", "x", "keys[]", "%zz"), queryValue), {
    maxLength: 4,
  })
  .map((pairs) => (pairs.length === 0 ? "" : `?${pairs.map(([key, value]) => `${key}=${value}`).join("&")}`));

/** Nested arrays or objects `depth` deep, as text (never parsed here: it may be deeper than any parser likes). */
const nested = (depth: number, object: boolean) => (object ? `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}` : "[".repeat(depth) + "]".repeat(depth));

const bodyArbitrary: fc.Arbitrary<string | Uint8Array | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.json({ maxDepth: 4 }) },
  {
    weight: 4,
    arbitrary: fc
      .record(
        {
          key: fc.oneof(fc.constantFrom("k1", "new-key", "", "\u0000", "a".repeat(513)), fc.string({ maxLength: 20 })),
          keys: fc.array(fc.oneof(fc.constant("k1"), fc.string({ maxLength: 10 })), { maxLength: 5 }),
          content: fc.oneof(fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }), fc.jsonValue({ maxDepth: 2 })),
          policy: fc.constantFrom("merge", "overwrite", "new", "silent", "mustexist", "bogus"),
          action: fc.constantFrom("delete", "add", "drop"),
          version: fc.oneof(fc.integer(), fc.double(), fc.constant(0)),
          modules: fc.dictionary(
            fc.string({ maxLength: 5 }),
            fc.array(fc.record({ module: fc.constantFrom("Noop", "Nope", ""), settings: fc.object({ maxDepth: 1 }) }), { maxLength: 2 }),
          ),
          schedules: fc.array(
            fc.record({ scope: fc.constantFrom("raw", "bad scope"), cron: fc.constantFrom("0 3 * * *", "not cron", "* * * * * * *") }),
            { maxLength: 2 },
          ),
          batchSize: fc.integer({ min: -5, max: 5000 }),
          scope: fc.constantFrom("raw", "$record", "../x"),
        },
        { requiredKeys: [] },
      )
      .map((value) => JSON.stringify(value)),
  },
  {
    weight: 2,
    arbitrary: fc.json({ maxDepth: 3 }).chain((text) => fc.nat({ max: Math.max(0, text.length - 1) }).map((cut) => `${text.slice(0, cut)}}`)),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 60, max: 20_000 }), fc.boolean()).map(([depth, object]) => nested(depth, object)) },
  { weight: 1, arbitrary: fc.integer({ min: 60, max: 5_000 }).map((depth) => `{"key":"deep","content":${nested(depth, true)}}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(MiB - 100, MiB + 1, MiB + 64 * 1024 + 1, 3 * MiB).map((size) => `{"key":"big","content":{"s":"${"x".repeat(size)}"}}`),
  },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Uint8Array.from([0x7b, 0xff, 0xfe, 0xc0, 0xaf, ...bytes, 0xed, 0xa0, 0x80])),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(
        fc.oneof(fc.json({ maxDepth: 2 }), fc.constant('{"action":"add","scope":"raw","key":"b1","content":{}}'), fc.string({ maxLength: 20 })),
        { maxLength: 6 },
      )
      .map((lines) => lines.join("\n")),
  },
);

const headersArbitrary = fc.record({
  authorization: fc.oneof(
    { weight: 6, arbitrary: fc.nat({ max: 5 }).map((index) => `Bearer ${tokens[index]}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        `bearer  ${ADMIN_TOKEN} `,
        `Bearer ${ADMIN_TOKEN}x`,
        "Bearer rs_",
        `Bearer ${ADMIN_TOKEN} extra`,
      ),
    },
    { weight: 1, arbitrary: fc.stringMatching(/^[\x20-\x7e]{0,60}$/) },
  ),
  contentType: fc.constantFrom(
    undefined,
    "application/json",
    "application/x-ndjson",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "application/json; charset=latin1",
  ),
  extra: fc.option(fc.tuple(fc.stringMatching(/^x-[a-z0-9-]{1,20}$/), fc.stringMatching(/^[\x20-\x7e]{0,100}$/))),
});

const requestArbitrary = () =>
  fc.record({
    route: routeArbitrary(),
    query: queryArbitrary,
    headers: headersArbitrary,
    body: bodyArbitrary,
  });

type FuzzInput = ReturnType<typeof requestArbitrary> extends fc.Arbitrary<infer T> ? T : never;

function toRequest(input: FuzzInput): Request {
  const headers = new Headers();
  if (input.headers.authorization !== undefined) headers.set("authorization", input.headers.authorization);
  if (input.headers.contentType !== undefined) headers.set("content-type", input.headers.contentType);
  if (input.headers.extra) headers.set(input.headers.extra[0], input.headers.extra[1]);
  const { method } = input.route;
  const path = input.route.path.replaceAll("VICTIM", victim).replaceAll("OTHER", otherUnit).replaceAll("TARGET", targetUser);
  const withBody = method !== "GET" && method !== "HEAD" && input.body !== undefined;
  return new Request(BASE + path + input.query, { method, headers, body: withBody ? input.body : undefined });
}

// ── properties ───────────────────────────────────────────────────────────────

describe("fuzzing the HTTP surface", () => {
  it("never answers 5xx, always explains an error, and a refused request changes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(requestArbitrary(), async (input) => {
        const request = toRequest(input);
        const before = await snapshot();
        const response = await exports.default.fetch(request);
        const text = await response.text();
        const where = `${request.method} ${request.url} → ${response.status} ${text.slice(0, 300)}`;
        expect(response.status, where).toBeLessThan(500);
        if (response.status >= 400 && request.method !== "HEAD") {
          const body = JSON.parse(text) as { message?: unknown; detail?: unknown };
          expect(typeof body.message, where).toBe("string");
          expect(typeof body.detail, where).toBe("string");
          expect((body.detail as string).length, where).toBeGreaterThan(0);
        }
        if (response.status >= 400) expect(await snapshot(), where).toBe(before);
        else await restoreVictim();
      }),
      { numRuns: 250 },
    );
  });

  it("refuses every unit name outside the naming rule with 400 and takes every one inside it", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ unit: "binary", minLength: 1, maxLength: 70 }), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/)),
        async (name) => {
          fc.pre(name !== "." && name !== "..");
          const answer = await call("GET", `/admin/getStorageUnit/${encodeURIComponent(name)}`);
          const valid = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name);
          expect(answer.status, name).toBe(valid ? 404 : 400);
          expect(answer.body.message).toBe(valid ? "STORAGE_UNIT_DOESNT_EXIST" : "INVALID_REQUEST");
        },
      ),
      { numRuns: 100 },
    );
  });

  it("stores and reads back any valid key, and refuses keys with control characters, unpaired surrogates or past 512 bytes", async () => {
    const unit = await createUnit();
    const utf8 = new TextEncoder();
    const loneSurrogate = fc.constantFrom("\ud800", "\udbff", "\udc00", "\udfff");
    const keyArbitrary = fc.oneof(
      { weight: 4, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 140 }) },
      { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 10 }), loneSurrogate, fc.string({ maxLength: 10 })).map((parts) => parts.join("")) },
    );
    await fc.assert(
      fc.asyncProperty(keyArbitrary, async (key) => {
        const wellFormed = !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(key);
        // biome-ignore lint/suspicious/noControlCharactersInRegex: keys with control characters are what the property must refuse
        const valid = wellFormed && utf8.encode(key).length <= 512 && !/[\u0000-\u001f\u007f-\u009f]/.test(key);
        const write = await call("PUT", `/transaction/add/${unit}/raw`, JSON.stringify({ key, content: { key } }));
        expect(write.status, JSON.stringify(key)).toBe(valid ? 200 : 400);
        // an unpaired surrogate cannot be percent-encoded at all: only the body can carry one
        if (!wellFormed) return;
        const read = await call("GET", `/access/fetch/${unit}/${encodeURIComponent(key)}/raw`);
        if (valid) expect(read.body.content?.raw, JSON.stringify(key)).toEqual({ key });
        else expect(read.status, JSON.stringify(key)).toBe(400);
      }),
      { numRuns: 150 },
    );
  });
});
