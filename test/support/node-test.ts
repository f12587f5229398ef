/**
 * `cloudflare:test` as the tests of the `shards` project see it in plain Node: the calls of
 * the Workers test pool they use, on the host of node-workers.ts.
 */
import type { ObjectId } from "../../src/runtime/objects";
import { env, exports, host } from "./node-workers";

export { env };
export const SELF = exports.default;

/** Runs the object's alarm now if one is set; whether one ran. */
export function runDurableObjectAlarm(stub: unknown): Promise<boolean> {
  return host.runAlarm(stub as { id: ObjectId });
}

/** `fn` inside the object, with its instance and state. */
export function runInDurableObject<O, T>(stub: unknown, fn: (instance: O, state: DurableObjectState) => T | Promise<T>): Promise<T> {
  return host.runIn(stub as { id: ObjectId }, fn as never);
}

type Context = ExecutionContext & { pending: Promise<unknown>[] };

export function createExecutionContext(): ExecutionContext {
  const pending: Promise<unknown>[] = [];
  return {
    pending,
    waitUntil: (promise: Promise<unknown>) => void pending.push(promise),
    passThroughOnException() {},
    props: {},
  } as unknown as Context;
}

/** Waits for the work the context was given to go on with. */
export async function waitOnExecutionContext(ctx: ExecutionContext): Promise<void> {
  await Promise.allSettled((ctx as Context).pending);
}

export function createScheduledController(options: { scheduledTime?: number; cron?: string } = {}): ScheduledController {
  return { scheduledTime: options.scheduledTime ?? Date.now(), cron: options.cron ?? "", noRetry() {} } as ScheduledController;
}
