/**
 * The typed client's requests and answers are typed from the route definitions: these
 * uses compile (`npm test` runs tsc over test/), and each `@ts-expect-error` line must fail
 * to compile, or tsc reports the directive as unused.
 */
import { describe, expectTypeOf, it } from "vitest";
import type { JSONValue } from "hono/utils/types";
// through the package's export, as another project imports it
import { data, restageClient, type RestageClient } from "restage/client";

async function typedUses(restage: RestageClient): Promise<void> {
  const param = { unit: "docs", scope: "raw" };

  const status = await data(restage.api.reprocess.status[":unit"].$get({ param: { unit: "docs" } }));
  expectTypeOf(status.pending).toEqualTypeOf<number>();
  expectTypeOf(status.paused).toEqualTypeOf<boolean>();
  expectTypeOf(status.nextRunAt).toEqualTypeOf<string | null>();
  // @ts-expect-error a misspelt field of an answer
  void status.pendnig;

  // any JSON object is a content
  await restage.api.transaction.add[":unit"][":scope"].$put({
    param,
    json: { key: "k1", content: { title: "A", tags: ["x"], nested: { n: 1 } }, policy: "overwrite" },
  });
  // @ts-expect-error a misspelt field of a body (content is required)
  await restage.api.transaction.add[":unit"][":scope"].$put({ param, json: { key: "k1", contnet: { title: "A" } } });
  // @ts-expect-error a policy that does not exist
  await restage.api.transaction.add[":unit"][":scope"].$put({ param, json: { key: "k1", content: {}, policy: "merg" } });
  // @ts-expect-error a path parameter missing
  await restage.api.transaction.add[":unit"][":scope"].$put({ param: { unit: "docs" }, json: { key: "k1", content: {} } });

  const record = await data(restage.api.access.fetch[":unit"][":key"].$get({ param: { unit: "docs", key: "k1" } }));
  expectTypeOf(record.content).toEqualTypeOf<Record<string, Record<string, JSONValue>>>();
  expectTypeOf(record.meta).toEqualTypeOf<Record<string, { version: number; updatedAt: string }>>();

  const page = await data(restage.api.access.fetchPage[":unit"].$get({ param: { unit: "docs" }, query: { batchSize: "100" } }));
  expectTypeOf(page.nextStartId).toEqualTypeOf<string | undefined>();
  expectTypeOf(page.records[0]!.key).toEqualTypeOf<string>();

  const unit = await data(restage.api.admin.getStorageUnit[":unit"].$get({ param: { unit: "docs" } }));
  expectTypeOf(unit.storageUnit.queue.failed).toEqualTypeOf<number>();
  expectTypeOf(unit.storageUnit.settings.maxItemsPerSecond).toEqualTypeOf<number | null>();

  const batch = await restage.ingest("docs", [{ action: "add", scope: "raw", key: "k", content: { a: 1 } }]);
  expectTypeOf(batch.errors[0]!.line).toEqualTypeOf<number>();
  // @ts-expect-error an ingest line must say its action
  await restage.ingest("docs", [{ scope: "raw", key: "k", content: {} }]);

  const failed = await data(restage.api.reprocess.failed[":unit"].$get({ param: { unit: "docs" }, query: {} }));
  expectTypeOf(failed.items[0]!.attempts).toEqualTypeOf<number>();
  // a raw answer is one of the documented ones: 200 or an error envelope
  const answer = await restage.api.reprocess.all[":unit"][":scope"].$post({ param, query: {} });
  if (answer.status === 200) expectTypeOf((await answer.json()).queued).toEqualTypeOf<number>();
  if (answer.status === 409) expectTypeOf((await answer.json()).detail).toEqualTypeOf<string>();
}

describe("the typed client's types", () => {
  it("compiles the typed uses (checked by tsc in npm test)", () => {
    expectTypeOf(typedUses).toBeFunction();
    expectTypeOf(restageClient).returns.toEqualTypeOf<RestageClient>();
  });
});
