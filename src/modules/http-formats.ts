/**
 * The wire formats of HttpPublisher: how a batch of upserts and deletes becomes request
 * bodies, and which items an answer reports as failed.
 *
 * - `json`: one POST to the URL: `{"upserts":[{key,scope,document}],"deletes":[{key,scope}]}`;
 *   an answer may list `{"errors":[{key,scope,error}]}` to fail those items.
 * - `elasticsearch`: one POST to `<url>/_bulk`, NDJSON index/delete actions with `_index`
 *   and `_id` (the key); with `"errors":true` the items whose entry in `items` has an
 *   `error` fail. A delete of a missing document (404, no `error`) is a success.
 * - `solr`: the documents (with `id` = the key) as a JSON array, the deletions as
 *   `{"delete":[ids]}`, each POSTed to the URL (the update handler); Solr applies a
 *   request whole or not at all, so only the status decides.
 */
import type { Document, PipelineItem } from "./types";

export type HttpFormat = "json" | "elasticsearch" | "solr";

/** One item collected for publishing, with the document as it reached the publisher. */
export interface Entry {
  item: PipelineItem;
  document: Document | null;
}

/** One request to send, with the entries it carries in the order the answer reports them. */
export interface PublishRequest {
  url: string;
  contentType: string;
  body: string;
  entries: Entry[];
}

/** Reasons for the entries an answer reports as failed (by entry). */
export type Rejections = Map<Entry, string>;

export interface FormatSettings {
  url: string;
  index?: string;
}

/** The requests that publish these entries (none when there is nothing to send). */
export function buildRequests(format: HttpFormat, entries: Entry[], settings: FormatSettings): PublishRequest[] {
  if (entries.length === 0) return [];
  const upserts = entries.filter((entry) => entry.document !== null);
  const deletes = entries.filter((entry) => entry.document === null);
  switch (format) {
    case "json":
      return [
        {
          url: settings.url,
          contentType: "application/json",
          body: JSON.stringify({
            upserts: upserts.map(({ item, document }) => ({ key: item.key, scope: item.scope, document })),
            deletes: deletes.map(({ item }) => ({ key: item.key, scope: item.scope })),
          }),
          entries,
        },
      ];
    case "elasticsearch": {
      const lines: string[] = [];
      for (const { item, document } of entries) {
        const target = { _index: settings.index, _id: item.key };
        if (document === null) lines.push(JSON.stringify({ delete: target }));
        else lines.push(JSON.stringify({ index: target }), JSON.stringify(document));
      }
      return [{ url: `${settings.url.replace(/\/+$/, "")}/_bulk`, contentType: "application/x-ndjson", body: `${lines.join("\n")}\n`, entries }];
    }
    case "solr": {
      const requests: PublishRequest[] = [];
      if (upserts.length > 0) {
        const docs = upserts.map(({ item, document }) => ({ ...document, id: item.key }));
        requests.push({ url: settings.url, contentType: "application/json", body: JSON.stringify(docs), entries: upserts });
      }
      if (deletes.length > 0) {
        requests.push({ url: settings.url, contentType: "application/json", body: JSON.stringify({ delete: deletes.map(({ item }) => item.key) }), entries: deletes });
      }
      return requests;
    }
  }
}

/** The entries an answer reports as failed; empty when the answer reports none (or is not JSON). */
export function rejections(format: HttpFormat, request: PublishRequest, answer: string): Rejections {
  const rejected: Rejections = new Map();
  const parsed = parseObject(answer);
  if (!parsed) return rejected;
  if (format === "elasticsearch" && parsed.errors === true && Array.isArray(parsed.items)) {
    parsed.items.forEach((result: unknown, index: number) => {
      const entry = request.entries[index];
      const outcome = typeof result === "object" && result !== null ? Object.values(result)[0] : undefined;
      const error = typeof outcome === "object" && outcome !== null ? (outcome as { error?: unknown }).error : undefined;
      if (entry && error !== undefined && error !== null) rejected.set(entry, `elasticsearch: ${describeEsError(error)}`);
    });
  }
  if (format === "json" && Array.isArray(parsed.errors)) {
    // a batch holds one scope, so the key finds the entry; a `scope` naming another one matches nothing
    const byKey = new Map(request.entries.map((entry) => [entry.item.key, entry]));
    for (const error of parsed.errors) {
      if (typeof error !== "object" || error === null) continue;
      const { key, scope, error: reason } = error as { key?: unknown; scope?: unknown; error?: unknown };
      const entry = typeof key === "string" ? byKey.get(key) : undefined;
      if (!entry || (scope !== undefined && scope !== entry.item.scope)) continue;
      rejected.set(entry, `rejected by the endpoint: ${typeof reason === "string" ? reason : JSON.stringify(reason ?? "no reason given")}`);
    }
  }
  return rejected;
}

function parseObject(text: string): Record<string, any> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, any>) : undefined;
  } catch {
    return undefined;
  }
}

function describeEsError(error: unknown): string {
  if (typeof error === "object" && error !== null) {
    const { type, reason } = error as { type?: unknown; reason?: unknown };
    if (type !== undefined || reason !== undefined) return `${String(type ?? "error")}: ${String(reason ?? "")}`;
  }
  return typeof error === "string" ? error : JSON.stringify(error);
}
