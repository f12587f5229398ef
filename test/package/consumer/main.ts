import { data, RestageError, restageClient } from "restage/client";

const restage = restageClient({ baseUrl: process.env.RESTAGE_URL!, token: process.env.RESTAGE_TOKEN! });
const { api } = restage;
const unit = process.argv[2] ?? "docs";
await data(api.admin.createStorageUnit[":unit"].$put({ param: { unit }, json: { reprocessingQueue: true } }));
await data(api.transaction.add[":unit"][":scope"].$post({ param: { unit, scope: "raw" }, json: { key: "a/b c", content: { title: "Hello" } } }));
const { count } = await restage.ingest(unit, [{ action: "add", scope: "raw", key: "doc-2", content: { title: "Two" } }]);
const record = await data(api.access.fetch[":unit"][":key"].$get({ param: { unit, key: "a/b c" } }));
const status = await data(api.reprocess.status[":unit"].$get({ param: { unit } }));
// @ts-expect-error a misspelt field does not compile
void status.pendnig;
const missing = await data(api.access.fetch[":unit"][":key"].$get({ param: { unit, key: "nope" } })).catch((error: unknown) =>
  error instanceof RestageError ? `${error.status} ${error.code}` : String(error),
);
console.log(JSON.stringify({ count, title: record.content.raw?.title, pending: status.pending, missing }));
