/**
 * The wire formats of HttpPublisher: how a batch of upserts and deletes becomes request
 * bodies, and which items an answer reports as failed. A batch is split into as many
 * requests as it takes to keep each body within the byte limit (`maxRequestBytes`).
 *
 * - `json`: POSTs to the URL: `{"upserts":[{key,scope,document}],"deletes":[{key,scope}]}`;
 *   an answer may list `{"errors":[{key,scope,error}]}` to fail those items.
 * - `elasticsearch`: POSTs to `<url>/_bulk`, NDJSON index/delete actions with `_index`
 *   and `_id` (the key); with `"errors":true` the items whose entry in `items` has an
 *   `error` fail. A delete of a missing document (404, no `error`) is a success.
 * - `solr`: the documents (with `id` = the key) as a JSON array, the deletions as
 *   `{"delete":[ids]}`, each POSTed to the URL (the update handler); Solr applies a
 *   request whole or not at all, so only the status decides.
 */
import { chunksWithin } from "../chunks";
import { jsonBytes } from "../limits";
import type { PipelineItem } from "./types";

export type HttpFormat = "json" | "elasticsearch" | "solr";

/**
 * One item collected for publishing: its part of a request body, written when the item
 * reached the publisher (so later modules changing the document do not change what is sent).
 */
export interface Entry {
  item: PipelineItem;
  upsert: boolean;
  text: string;
  /** UTF-8 bytes of `text` with its separator in the body */
  bytes: number;
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

/** Bytes a body adds around its entries (`{"upserts":[],"deletes":[]}` and the like), kept free under the limit. */
const ENVELOPE_BYTES = 64;

/** The entry for an item as the format writes it. */
export function entryFor(format: HttpFormat, item: PipelineItem, settings: FormatSettings): Entry {
  const upsert = item.document !== null;
  let text: string;
  switch (format) {
    case "json":
      text = JSON.stringify(upsert ? { key: item.key, scope: item.scope, document: item.document } : { key: item.key, scope: item.scope });
      break;
    case "elasticsearch": {
      const target = { _index: settings.index, _id: item.key };
      text = upsert ? `${JSON.stringify({ index: target })}\n${JSON.stringify(item.document)}\n` : `${JSON.stringify({ delete: target })}\n`;
      break;
    }
    case "solr":
      text = JSON.stringify(upsert ? { ...item.document, id: item.key } : item.key);
      break;
  }
  // +1: the comma that joins JSON entries (NDJSON entries carry their own line breaks)
  return { item, upsert, text, bytes: jsonBytes(text) + (format === "elasticsearch" ? 0 : 1) };
}

/** Why an entry cannot travel at all (larger than a request may be), or undefined when it fits. */
export function tooLargeToSend(entry: Entry, maxRequestBytes: number): string | undefined {
  if (entry.bytes + ENVELOPE_BYTES <= maxRequestBytes) return undefined;
  return `the item is ${entry.bytes} bytes as sent; a request holds at most maxRequestBytes (${maxRequestBytes}); raise it if the endpoint accepts larger requests`;
}

/** The requests that publish these entries, each body within `maxRequestBytes` (none when there is nothing to send). */
export function buildRequests(format: HttpFormat, entries: Entry[], settings: FormatSettings, maxRequestBytes: number): PublishRequest[] {
  const split = (list: Entry[]) => chunksWithin(list, { maxItems: Infinity, maxBytes: maxRequestBytes - ENVELOPE_BYTES });
  const texts = (list: Entry[]) => list.map((entry) => entry.text).join(",");
  switch (format) {
    case "json":
      return split(entries).map((chunk) => ({
        url: settings.url,
        contentType: "application/json",
        body: `{"upserts":[${texts(chunk.filter((entry) => entry.upsert))}],"deletes":[${texts(chunk.filter((entry) => !entry.upsert))}]}`,
        entries: chunk,
      }));
    case "elasticsearch": {
      const url = `${settings.url.replace(/\/+$/, "")}/_bulk`;
      return split(entries).map((chunk) => ({
        url,
        contentType: "application/x-ndjson",
        body: chunk.map((entry) => entry.text).join(""),
        entries: chunk,
      }));
    }
    case "solr": {
      const upserts = split(entries.filter((entry) => entry.upsert)).map((chunk) => ({ body: `[${texts(chunk)}]`, entries: chunk }));
      const deletes = split(entries.filter((entry) => !entry.upsert)).map((chunk) => ({ body: `{"delete":[${texts(chunk)}]}`, entries: chunk }));
      return [...upserts, ...deletes].map((request) => ({ url: settings.url, contentType: "application/json", ...request }));
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
      if (entry && error !== undefined && error !== null) rejected.set(entry, `elasticsearch: ${errorCode(error) ?? "item rejected"}`);
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
      const code = errorCode(reason);
      rejected.set(entry, code === undefined ? "rejected by the endpoint" : `rejected by the endpoint (${code})`);
    }
  }
  return rejected;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A code: a word of letters, digits and `_ . : -`, which cannot carry a sentence. */
const CODE = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

/**
 * The short code naming the kind of an error an endpoint reported, if it gives one:
 * Elasticsearch's `error.type` (`mapper_parsing_exception`), Solr's `error-class` metadata,
 * or an error that is itself a code. Never free text: reasons may quote the documents or
 * the endpoint's internals, and item errors are shown to every reader of the unit.
 * @example errorCode({ type: "mapper_parsing_exception", reason: "failed to parse [date]" }) // "mapper_parsing_exception"
 */
export function errorCode(error: unknown): string | undefined {
  let candidate: unknown = error;
  if (typeof error === "object" && error !== null) {
    const { type, code, metadata } = error as { type?: unknown; code?: unknown; metadata?: unknown };
    candidate = type ?? solrErrorClass(metadata) ?? code;
  }
  return typeof candidate === "string" && CODE.test(candidate) ? candidate : undefined;
}

/** The error code of a whole answer's body (`{"error":{...}}`), if it gives one. */
export function answerCode(answer: string): string | undefined {
  const parsed = parseObject(answer);
  return parsed === undefined ? undefined : errorCode(parsed.error);
}

/** Solr lists `["error-class", "org.apache.solr.common.SolrException", ...]` in `error.metadata`. */
function solrErrorClass(metadata: unknown): unknown {
  if (!Array.isArray(metadata)) return undefined;
  const index = metadata.indexOf("error-class");
  return index >= 0 ? metadata[index + 1] : undefined;
}
