/**
 * vitest globalSetup (runs in Node): a real HTTP server on 127.0.0.1 for the publisher
 * tests, speaking enough of Elasticsearch `_bulk` and Solr update to exercise HttpPublisher.
 * Its port reaches the Workers runtime as the PUBLISHER_URL binding (see vitest.config.ts).
 *
 * Paths are `/<tag>/<behaviour>`: each test uses its own tag and reads what the server
 * received with `GET /__received/<tag>`. Behaviours:
 * - `es/_bulk`: Elasticsearch bulk; an indexed document with a `_reject` field gets an item error
 *   whose reason quotes `_reject` and {@link LEAKED_SECRET}
 * - `solr/update`: Solr JSON update; a document with `_reject` makes the whole request a 400
 * - `json`: the `json` format; documents with `_reject` are listed in `errors`
 * - `status/<code>`: answers that status
 * - `leaky/<code>`: answers that status with an Elasticsearch-style error whose reason holds
 *   {@link LEAKED_SECRET}, as an endpoint echoing its internals would
 * - `flaky/<n>/<behaviour>`: answers 503 to the first n requests of the tag, then behaves
 * - `fail-after/<n>/<behaviour>`: behaves for the first n requests of the tag, then answers 503
 * - `hang`: never answers
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";
import { LEAKED_SECRET } from "./publisher-secret";

declare module "vitest" {
  export interface ProvidedContext {
    publisherPort: number;
  }
}

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

type Answer = { status: number; body: unknown };

const received = new Map<string, ReceivedRequest[]>();

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = createServer((request, response) => void handle(request, response));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  project.provide("publisherPort", (server.address() as AddressInfo).port);
  return async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks).toString("utf8");
  const [tag = "", ...behaviour] = (request.url ?? "/").split("?")[0]!.split("/").filter(Boolean).map(decodeURIComponent);
  if (tag === "__received") return reply(response, { status: 200, body: received.get(behaviour[0] ?? "") ?? [] });
  const list = received.get(tag) ?? [];
  received.set(tag, list);
  list.push({ method: request.method ?? "", path: request.url ?? "", headers: request.headers, body });
  const answer = respond(behaviour, body, list.length);
  if (answer) reply(response, answer);
  // no answer: hang until the client gives up or the server closes
}

function respond(behaviour: string[], body: string, count: number): Answer | undefined {
  const [mode, ...rest] = behaviour;
  switch (mode) {
    case "es":
      return elasticsearchBulk(body);
    case "solr":
      return solrUpdate(body);
    case "json":
      return jsonFormat(body);
    case "status":
      return { status: Number(rest[0]), body: { error: `status ${rest[0]} on demand` } };
    case "leaky":
      return { status: Number(rest[0]), body: { error: { type: "security_exception", reason: LEAKED_SECRET }, status: Number(rest[0]) } };
    case "flaky":
      return count <= Number(rest[0]) ? { status: 503, body: { error: "temporarily unavailable" } } : respond(rest.slice(1), body, count);
    case "fail-after":
      return count > Number(rest[0]) ? { status: 503, body: { error: "failing from now on" } } : respond(rest.slice(1), body, count);
    case "hang":
      return undefined;
    default:
      return { status: 404, body: { error: `unknown behaviour '${behaviour.join("/")}'` } };
  }
}

function elasticsearchBulk(body: string): Answer {
  const lines = body
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line));
  const items: unknown[] = [];
  for (let i = 0; i < lines.length; i++) {
    const [action, target] = Object.entries(lines[i])[0] as [string, { _index: string; _id: string }];
    if (action === "delete") {
      items.push({ delete: { _index: target._index, _id: target._id, result: "deleted", status: 200 } });
      continue;
    }
    const source = lines[++i];
    items.push(
      source._reject
        ? {
            [action]: {
              _index: target._index,
              _id: target._id,
              status: 400,
              error: { type: "mapper_parsing_exception", reason: `${String(source._reject)} (${LEAKED_SECRET})` },
            },
          }
        : { [action]: { _index: target._index, _id: target._id, result: "created", status: 201 } },
    );
  }
  const errors = items.some((item) => "error" in (Object.values(item as object)[0] as object));
  return { status: 200, body: { took: 1, errors, items } };
}

function solrUpdate(body: string): Answer {
  const parsed = JSON.parse(body);
  const rejected = Array.isArray(parsed) ? parsed.find((doc) => doc._reject) : undefined;
  if (rejected) {
    const metadata = ["error-class", "org.apache.solr.common.SolrException", "root-error-class", "org.apache.solr.common.SolrException"];
    return {
      status: 400,
      body: {
        responseHeader: { status: 400, QTime: 1 },
        error: { metadata, msg: `ERROR: [doc=${rejected.id}] ${rejected._reject} ${LEAKED_SECRET}`, code: 400 },
      },
    };
  }
  return { status: 200, body: { responseHeader: { status: 0, QTime: 1 } } };
}

function jsonFormat(body: string): Answer {
  const parsed = JSON.parse(body) as { upserts: Array<{ key: string; scope: string; document: Record<string, unknown> }> };
  const errors = parsed.upserts
    .filter((upsert) => upsert.document._reject)
    .map((upsert) => ({ key: upsert.key, scope: upsert.scope, error: String(upsert.document._reject) }));
  return { status: 200, body: errors.length > 0 ? { errors } : { ok: true } };
}

function reply(response: ServerResponse, answer: Answer): void {
  response.writeHead(answer.status, { "content-type": "application/json" });
  response.end(JSON.stringify(answer.body));
}
