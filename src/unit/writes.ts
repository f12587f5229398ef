/**
 * A client's writes on this shard: one key (add, delete) or the lines of a batch. Each is
 * applied in one transaction with what it sets in motion (changes.ts), then the job is told.
 * During a split, where a key is written is decided in the same synchronous step that
 * applies it (split.ts, `placeOf`): here while the shard's cursor has not passed it, on its
 * new shard once it has (sent {@link unrouted}), MOVED when the key is not this shard's at all.
 */
import { failure, isFailure, type Failure } from "../errors";
import { isMoved, moved } from "../routing/layout";
import type { StoredLine } from "../schemas";
import type { BatchLineResult } from "./answers";
import type { Changes } from "./changes";
import type { UnitConfig } from "./config";
import type { Caller } from "./grants";
import { unrouted, type RoutedCall } from "../routing/router";
import type { AddPolicy, DeletePolicy, RecordStore } from "./records";
import type { Peer, Split } from "./split";
import { byPlace } from "./split-forward";
import type { Sql } from "./sql";

/** A batch line whose key changed shards while the line travelled: rare (a split step at that moment). */
const ROUTED_AGAIN = "the unit's shards changed while the line was sent; send it again";

export interface WritesHost {
  sql: Sql;
  records: RecordStore;
  changes: Changes;
  split: Split;
  /** after anything that may have queued work (unit-parts.ts) */
  afterEnqueue(): Promise<void>;
}

type Line = { line: number; entry: StoredLine };

export class Writes {
  constructor(private readonly host: WritesHost) {}

  add(unit: UnitConfig, call: RoutedCall<Caller>, scope: string, input: { key: string; contentJson: string; policy: AddPolicy; version?: number }) {
    return this.write(
      unit,
      call,
      input.key,
      () => this.host.records.addJson(input.key, scope, input.contentJson, input.policy, input.version ?? Date.now()),
      (peer, forwarded) => peer.add(forwarded, scope, input),
    );
  }

  remove(unit: UnitConfig, call: RoutedCall<Caller>, scope: string, input: { key: string; policy: DeletePolicy; version?: number }) {
    return this.write(
      unit,
      call,
      input.key,
      () => this.host.records.delete(input.key, scope, input.policy, input.version ?? Date.now()),
      (peer, forwarded) => peer.remove(forwarded, scope, input),
    );
  }

  /**
   * Applies lines of a batch, each on its own; each line carries its number in the caller's
   * body, for its error. During a split, the lines of keys that have moved are applied on
   * their new shards (as {@link add} does for one key).
   */
  async batch(unit: UnitConfig, call: RoutedCall<Caller>, lines: Line[]): Promise<{ applied: number; errors: BatchLineResult[] } | Failure> {
    const { split, changes } = this.host;
    const { here, away, elsewhere } = byPlace(split, lines, ({ entry }) => entry.key);
    if (elsewhere.length > 0 && elsewhere.length === lines.length) return moved(unit.layout);
    // applied in the step that placed them: a move step cannot fall between
    const result = changes.applyLines(unit, here);
    const forwarded = await Promise.all(
      [...away].map(async ([target, group]) => ({
        group,
        answer: await split
          .peer(target)
          .batch(unrouted(call.caller), group)
          .catch((error: unknown) =>
            failure("OVERLOADED", `shard ${target} of '${unit.name}' did not answer (${String(error)}); send these lines again`),
          ),
      })),
    );
    let { applied } = result;
    const errors = [...result.errors, ...lineErrors(elsewhere, failure("OVERLOADED", ROUTED_AGAIN))];
    for (const { group, answer } of forwarded) {
      if (!isFailure(answer)) {
        applied += answer.applied;
        errors.push(...answer.errors);
      } else errors.push(...lineErrors(group, isMoved(answer) ? failure("OVERLOADED", ROUTED_AGAIN) : answer));
    }
    await this.host.afterEnqueue();
    return { applied, errors: errors.sort((a, b) => a.line - b.line) };
  }

  /** One key's write: placed, applied with what it sets in motion, the job told; or sent on to the key's new shard. */
  private async write(
    unit: UnitConfig,
    call: RoutedCall<Caller>,
    key: string,
    apply: () => { changed: string[] } | Failure,
    forward: (peer: Peer, call: RoutedCall<Caller>) => Promise<{ ok: true } | Failure>,
  ): Promise<{ ok: true } | Failure> {
    const { split, sql, changes } = this.host;
    // where the key is and the write itself are one synchronous step: a move step cannot fall between them
    const place = split.placeOf(key);
    if (place === "elsewhere") return moved(unit.layout);
    if (place !== "here") return forward(split.peer(place), unrouted(call.caller));
    const result = sql.transaction(() => {
      const outcome = apply();
      if (!("error" in outcome)) changes.changed(unit, key, outcome.changed, 0);
      return outcome;
    });
    if ("error" in result) return result;
    await this.host.afterEnqueue();
    return { ok: true };
  }
}

function lineErrors(lines: Line[], refusal: Failure): BatchLineResult[] {
  return lines.map(({ line, entry }) => ({ line, key: entry.key, error: refusal.error, detail: refusal.detail }));
}
