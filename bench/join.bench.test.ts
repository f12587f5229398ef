/**
 * The join benchmark: BENCH_JOIN_RECORDS books (default 20,000), each referencing one of
 * 1,000 authors, drained through `reprocess/all` with batchSize 1000, with and without a
 * ForeignKeyJoin in front of the same FieldMapping, on a unit of 1 shard and one of 8.
 * Prints items/s per case, the join's cost on 1 shard (with / without) and what 8 shards
 * do to it (8 / 1), then both joins once more, their references already recorded (no
 * reverse row travels between shards then); asserts only that every item was processed.
 * `npm run bench -- bench/join.bench.test.ts`
 */
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { api } from "./api";

const AUTHORS = 1000;
const LINES_PER_BATCH = 10_000;
const records = Number((env as unknown as { BENCH_JOIN_RECORDS?: string }).BENCH_JOIN_RECORDS ?? 20_000);
const MAPPING = { module: "FieldMapping", settings: { rename: { title: "headline" } } };
const JOIN = { module: "ForeignKeyJoin", settings: { field: "authorId", scope: "authors", as: "author" } };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function send(unit: string, lines: string[]) {
  for (let start = 0; start < lines.length; start += LINES_PER_BATCH) {
    await api("POST", `/transaction/batch/${unit}`, lines.slice(start, start + LINES_PER_BATCH).join("\n"));
  }
}

/** Items/s of the drain of the books of a fresh unit of `shards` shards through `modules`. */
async function drainRate(unit: string, shards: number, modules: object[]): Promise<number> {
  await api("PUT", `/admin/createStorageUnit/${unit}`, { contentProcessing: false, reprocessingQueue: true, shards });
  await api("POST", `/admin/setContentProcessingModules/${unit}`, { modules: { books: modules } });
  await api("PUT", `/admin/setReprocessingSettings/${unit}`, { batchSize: 1000 });
  const line = (scope: string, key: string, content: object) => JSON.stringify({ action: "add", scope, key, content });
  await send(
    unit,
    Array.from({ length: AUTHORS }, (_, i) => line("authors", `author-${i}`, { name: `Author ${i}`, born: 1900 + (i % 100) })),
  );
  await send(
    unit,
    Array.from({ length: records }, (_, i) =>
      line("books", `book-${String(i).padStart(8, "0")}`, { title: `Book ${i}`, authorId: `author-${(i * 7919) % AUTHORS}` }),
    ),
  );
  return drain(unit, 1);
}

/** Items/s of the `round`th drain of every book of `unit`. */
async function drain(unit: string, round: number): Promise<number> {
  const start = Date.now();
  await api("POST", `/reprocess/all/${unit}/books`);
  let status: Record<string, any>;
  for (;;) {
    status = await api("GET", `/reprocess/status/${unit}`);
    if (!status.filling && status.pending + status.assigned === 0) break;
    await sleep(20);
  }
  const ms = Date.now() - start;
  expect(status).toMatchObject({ processed: records * round, failed: 0 });
  return Math.round(records / (ms / 1000));
}

it("drains a join on 1 shard and on 8, against the same drain without it", async () => {
  const plain1 = await drainRate("plain-1", 1, [MAPPING]);
  const join1 = await drainRate("join-1", 1, [JOIN, MAPPING]);
  const join8 = await drainRate("join-8", 8, [JOIN, MAPPING]);
  // the same again: every reference is recorded already, so no reverse row travels between shards
  const again1 = await drain("join-1", 2);
  const again8 = await drain("join-8", 2);
  const format = (n: number) => n.toLocaleString("en-US");
  console.log(
    [
      `books: ${format(records)}, authors: ${format(AUTHORS)}, batchSize 1000 (items/s)`,
      `without join, 1 shard   ${format(plain1)}`,
      `join, 1 shard           ${format(join1)}   (${(join1 / plain1).toFixed(3)}× without)`,
      `join, 8 shards          ${format(join8)}   (${(join8 / join1).toFixed(3)}× 1 shard)`,
      `again (references kept): 1 shard ${format(again1)}, 8 shards ${format(again8)} (${(again8 / again1).toFixed(3)}×)`,
    ].join("\n"),
  );
});
