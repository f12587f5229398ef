/** Helpers for the module tests: pipelines, draining a unit's queue, and what the test endpoints received. */
import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { OutboxMessage } from "../../src/modules/queue-publisher";
import { call, unitStub } from "../helpers";
import type { ReceivedRequest } from "./publisher-server";

export type ModuleRef = { module: string; settings?: Record<string, unknown> };

/** Sets the unit's pipelines, failing the test unless they were accepted. */
export async function setModules(unit: string, modules: Record<string, ModuleRef[]>, settings?: Record<string, unknown>): Promise<void> {
  const answer = await call("POST", `/admin/setContentProcessingModules/${unit}`, settings ? { modules, settings } : { modules });
  expect(answer.body, "setContentProcessingModules").toEqual({ message: "OK" });
}

/** Changes reprocessing settings, failing the test unless they were accepted. */
export async function setReprocessing(unit: string, settings: Record<string, unknown>): Promise<void> {
  const answer = await call("PUT", `/admin/setReprocessingSettings/${unit}`, settings);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
}

/** Runs the unit's alarm until it has nothing left to do (retries included). */
export async function drain(unit: string): Promise<void> {
  while (await runDurableObjectAlarm(unitStub(unit))) {
    // each run claims what is due and re-arms for the rest
  }
}

export async function status(unit: string): Promise<Record<string, any>> {
  return (await call("GET", `/reprocess/status/${unit}`)).body;
}

export async function failedItems(unit: string): Promise<Array<{ scope: string; key: string; attempts: number; lastError: string }>> {
  return (await call("GET", `/reprocess/failed/${unit}`)).body.items;
}

export async function fetchScope(unit: string, key: string, scope: string): Promise<Record<string, any> | undefined> {
  const answer = await call("GET", `/access/fetch/${unit}/${encodeURIComponent(key)}/${scope}`);
  return answer.status === 200 ? answer.body.content[scope] : undefined;
}

/** A URL on the publisher test server for one test's tag and a behaviour (see publisher-server.ts). */
export function publisherUrl(tag: string, behaviour: string): string {
  return `${env.PUBLISHER_URL}/${tag}/${behaviour}`;
}

/** The requests the publisher test server received for a tag, oldest first. */
export async function received(tag: string): Promise<ReceivedRequest[]> {
  const response = await fetch(`${env.PUBLISHER_URL}/__received/${tag}`);
  return response.json();
}

/** NDJSON lines of an Elasticsearch bulk body, parsed. */
export function bulkLines(body: string): Array<Record<string, any>> {
  return body
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line));
}

/** The messages the OUTBOX consumer received for a unit, waiting until at least `count` arrived (queue delivery is asynchronous). */
export async function outbox(unit: string, count: number): Promise<OutboxMessage[]> {
  for (let round = 0; ; round++) {
    const messages: OutboxMessage[] = await (await env.OUTBOX_CONSUMER.fetch(`https://consumer/messages?unit=${unit}`)).json();
    if (messages.length >= count || round >= 200) return messages;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
