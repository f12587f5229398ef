/**
 * A client's reads on this shard: one record, many, a page of keys, a page of records.
 * During a split, keys this shard has handed to a new shard are asked of that shard and the
 * answers passed on (split-forward.ts), so a read misses no key in flight.
 */
import { failure, isFailure, type Failure } from "../errors";
import { mergeKeys } from "../routing/key-order";
import type { Caller } from "./grants";
import type { RoutedCall } from "../routing/router";
import type { RecordStore, StoredRecord } from "./records";
import type { Split } from "./split";
import { acrossSplit, recordsInOrder } from "./split-forward";

export interface ReadsHost {
  records: RecordStore;
  split: Split;
  /** the call's guard again, after a read that waited its turn: MOVED if the shard's layout changed meanwhile */
  stillRouted(call: RoutedCall<Caller>): Failure | undefined;
}

export class Reads {
  constructor(private readonly host: ReadsHost) {}

  record(call: RoutedCall<Caller>, key: string, scope?: string): StoredRecord | Failure | Promise<StoredRecord | Failure> {
    const { split, records } = this.host;
    const away = split.away(key);
    if (away !== undefined) return split.peer(away).fetchRecord(call, key, scope);
    return records.get(key, scope) ?? failure("KEY_NOT_FOUND", scope ? `record '${key}' has no scope '${scope}'` : `no record '${key}'`);
  }

  /** `maxBytes`: this shard's part of the answer's room, when the answer gathers several shards. */
  async many(
    call: RoutedCall<Caller>,
    keys: string[],
    scope?: string,
    maxBytes?: number,
  ): Promise<{ records: StoredRecord[]; remainingKeys?: string[] } | Failure> {
    const { split, records } = this.host;
    // up to a list's room read at once: it waits its turn among the process's reads before, and counts after
    await records.turn();
    const parts = await acrossSplit(
      split,
      keys,
      (here) => records.getMany(here, scope, maxBytes),
      (peer, gone) => peer.fetchMany(call, gone, scope, maxBytes),
    );
    return isFailure(parts) ? parts : recordsInOrder(keys, parts, maxBytes);
  }

  /**
   * The first `limit` keys from `startId` (inclusive) in byte order: a page over several
   * shards is chosen on keys first. While a split runs, an old shard answers for its new
   * shards too, asking them after reading its own keys: a key in flight is then in one of
   * the two lists (it reaches its new shard before it leaves this one), never in neither.
   */
  async pageKeys(call: RoutedCall<Caller>, startId: string | undefined, limit: number, scope?: string): Promise<string[] | Failure> {
    const { split, records } = this.host;
    const here = records.pageKeys(startId, limit, scope);
    const family = split.family();
    if (family.length === 0) return here;
    const theirs = await Promise.all(family.map((index) => split.peer(index).pageKeys(call, startId, limit, scope)));
    const refused = theirs.find(isFailure);
    return refused ?? mergeKeys([here, ...(theirs as string[][])], limit);
  }

  /**
   * A page of records of a unit of one shard. The page waits its turns between its reads: a
   * split that began meanwhile may have moved keys off this shard, so the page stands only
   * if the layout is still the one it was routed by (else MOVED: the Worker asks again by
   * the split's layout, which reads the new shards too).
   */
  async page(
    call: RoutedCall<Caller>,
    startId: string | undefined,
    size: number,
    scope?: string,
  ): Promise<{ records: StoredRecord[]; nextStartId?: string } | Failure> {
    const page = await this.host.records.page(startId, size, scope);
    return this.host.stillRouted(call) ?? page;
  }
}
