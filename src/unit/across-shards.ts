/**
 * What a shard does with the other shards of its unit for the modules' reads and the
 * references between records (references.ts says which table lives where):
 * - a module's read of keys held by other shards asks those shards, at once, within the
 *   read's byte budget (read-across.ts); the reverse rows waiting in the outbox for
 *   the keys read go with the read and are set before it, so a change of a key made after a
 *   referrer read it always finds that referrer;
 * - one step of the job sends waiting reverse rows to their shards, then queues the
 *   referrers of the oldest changes on their own shards, a remote shard's by one call per
 *   shard, before the change's cursor moves on: each is delivered at least once, and
 *   arriving twice does no harm.
 * A unit of one shard does all of it locally, as it always did: no call leaves the object.
 */
import { isFailure, type Failure } from "../errors";
import { configuredScopes } from "../modules/pipeline";
import { readAcross, shareOf, type ReadPart } from "./read-across";
import type { Peer } from "./split";
import type { UnitConfig } from "./config";
import { ADMIN, ADMIN_CALL } from "./grants";
import { destinationOf, ownerOf } from "../routing/placement";
import type { Queue } from "./queue";
import type { RecordStore } from "./records";
import type { Reference, ReferenceStore, Referrer } from "./references";
import type { Siblings } from "./siblings";

/** Whether the unit has other shards than this one. */
export function isSpread(unit: UnitConfig): boolean {
  return unit.layout.shards > 1 || unit.layout.splitTo !== null;
}

/** The scopes whose items a change may queue: those with a pipeline now. */
export function pipelineScopes(unit: UnitConfig): string[] {
  return configuredScopes(unit.modules, { withModules: true });
}

/** {@link RecordStore.contentsJson} in one array: the contents reached within `maxBytes`, null where a key has none. */
export function contentsWithin(records: RecordStore, keys: string[], scope: string, maxBytes: number): Array<string | null> {
  const contents: Array<string | null> = [];
  for (const chunk of records.contentsJson(keys, scope, maxBytes)) for (const json of chunk.contents) contents.push(json ?? null);
  return contents;
}

export class AcrossShards {
  /** the step in flight: the job's loop and a write may both ask for one, and one cursor must move at a time */
  private stepping: Promise<boolean> | undefined;

  constructor(
    private readonly config: () => UnitConfig | undefined,
    private readonly records: RecordStore,
    private readonly references: ReferenceStore,
    private readonly queue: Queue,
    /** the unit's other shards, routed from the layout this shard holds */
    private readonly siblings: (unit: UnitConfig) => Siblings,
    /** the new shard of a key a split has moved on from this one (split.ts, `away`) */
    private readonly away: (key: string) => number | undefined = () => undefined,
  ) {}

  /** `scope` of this shard's `keys` within `maxBytes`, for a reader on another shard, once the reverse rows it sends are set. */
  async readHere(keys: string[], scope: string, maxBytes: number, references: Reference[]): Promise<Array<string | null> | Failure> {
    const arrived = await this.arrive(references);
    return isFailure(arrived) ? arrived : contentsWithin(this.records, keys, scope, maxBytes);
  }

  /**
   * Reverse rows of this shard's keys, from their referrers' shards. Sent by the old shard
   * count while a split runs: those of keys it has moved on go on to their new shards, so
   * none is left behind where its key no longer is.
   */
  arrive(references: Reference[]): Promise<{ ok: true } | Failure> {
    return this.onOwners(
      references,
      (reference) => reference.ref_key,
      (here) => this.references.apply(here),
      (peer, gone) => peer.applyReferences(ADMIN_CALL, gone),
    );
  }

  /** The JSON texts of `scope` for `keys` of every shard, with the rules of records.contentsJson. */
  async read(unit: UnitConfig, keys: string[], scope: string, maxBytes: number): Promise<{ contents: Array<string | undefined>; bytes: number }> {
    const read = await this.readByLayout(unit, keys, scope, maxBytes);
    return unit.layout.splitTo === null ? read : this.readMoved(unit, keys, scope, maxBytes, read);
  }

  /**
   * During a split, a key not found on its old shard may have moved already: those keys are
   * asked of their new shards (which hold the same layout), within the bytes left, so a join
   * running meanwhile misses no record.
   */
  private async readMoved(
    unit: UnitConfig,
    keys: string[],
    scope: string,
    maxBytes: number,
    read: { contents: Array<string | undefined>; bytes: number },
  ): Promise<{ contents: Array<string | undefined>; bytes: number }> {
    const byShard = new Map<number, number[]>();
    read.contents.forEach((content, position) => {
      const key = keys[position]!;
      const target = destinationOf(key, unit.layout);
      if (content === undefined && target !== ownerOf(key, unit.layout)) byShard.set(target, [...(byShard.get(target) ?? []), position]);
    });
    let bytes = read.bytes;
    for (const [target, positions] of byShard) {
      if (bytes > maxBytes) break;
      const shard = this.siblings(unit).shard(target);
      const wanted = positions.map((position) => keys[position]!);
      const found = await shard.readContents({ caller: ADMIN, layout: unit.layout }, wanted, scope, maxBytes - bytes, []);
      if (isFailure(found)) throw new Error(`reading scope '${scope}' on shard ${target}: ${found.error}: ${found.detail}`);
      found.forEach((content, index) => {
        if (content === null) return;
        read.contents[positions[index]!] = content;
        bytes += new TextEncoder().encode(content).length;
      });
    }
    return { contents: read.contents, bytes };
  }

  private readByLayout(
    unit: UnitConfig,
    keys: string[],
    scope: string,
    maxBytes: number,
  ): Promise<{ contents: Array<string | undefined>; bytes: number }> {
    const { records, references } = this;
    return readAcross(keys, maxBytes, async (positions, bytesLeft) => {
      const parts = await this.siblings(unit).onShardsOf(
        ADMIN,
        positions,
        (position) => keys[position]!,
        async (shard, group, routed, groups): Promise<ReadPart | Failure> => {
          const wanted = group.map((position) => keys[position]!);
          const outgoing = references.outgoingFor(scope, wanted);
          const contents = await shard.readContents(routed, wanted, scope, shareOf(bytesLeft, groups), outgoing);
          if (isFailure(contents)) return contents;
          references.delivered(outgoing);
          return { positions: group, contents };
        },
        {
          ...this.here(unit),
          run: (group, groups) => ({
            positions: group,
            contents: contentsWithin(
              records,
              group.map((position) => keys[position]!),
              scope,
              shareOf(bytesLeft, groups),
            ),
          }),
        },
      );
      return succeeded(parts, `reading scope '${scope}' on other shards`).map((part) => part.result);
    });
  }

  /**
   * One step of the job's work on references: on a unit of one shard the referrer outbox's
   * step, in one transaction; else waiting reverse rows sent, then referrers queued on their
   * shards. Returns whether work is left; throws when a shard could not be reached (the
   * alarm runs again), the outboxes kept as they were.
   */
  step(): boolean | Promise<boolean> {
    const unit = this.config();
    if (!unit) return false;
    // no promise on one shard: the step is over when it returns, as the job and a write always had it
    if (!isSpread(unit)) return this.references.queueReferrers(pipelineScopes(unit));
    this.stepping ??= this.stepAcross(unit).finally(() => {
      this.stepping = undefined;
    });
    return this.stepping;
  }

  /** Queues referrers of a change on this shard; those a split has moved on are queued on their new shards. */
  enqueue(referrers: Referrer[], now = Date.now()): Promise<{ ok: true } | Failure> {
    return this.onOwners(
      referrers,
      (referrer) => referrer.key,
      (here) => {
        for (const hops of new Set(here.map((referrer) => referrer.hops)))
          this.queue.enqueueItems(
            here.filter((referrer) => referrer.hops === hops),
            hops,
            now,
          );
      },
      (peer, gone) => peer.enqueueReferrers(ADMIN_CALL, gone),
    );
  }

  /** `local` for the items whose key is here, `remote` on the new shard of each key a split has moved on. */
  private async onOwners<I>(
    items: I[],
    keyOf: (item: I) => string,
    local: (items: I[]) => void,
    remote: (peer: Peer, items: I[]) => Promise<unknown>,
  ): Promise<{ ok: true } | Failure> {
    const here: I[] = [];
    const gone = new Map<number, I[]>();
    for (const item of items) {
      const target = this.away(keyOf(item));
      if (target === undefined) here.push(item);
      else gone.set(target, [...(gone.get(target) ?? []), item]);
    }
    local(here);
    const unit = this.config();
    if (gone.size === 0 || !unit) return { ok: true };
    const answers = await Promise.all([...gone].map(([target, group]) => remote(this.siblings(unit).shard(target), group)));
    return (answers.find(isFailure) as Failure | undefined) ?? { ok: true };
  }

  private async stepAcross(unit: UnitConfig): Promise<boolean> {
    const { references } = this;
    const outgoing = references.outgoing();
    if (outgoing.length > 0) {
      const sent = await this.siblings(unit).onShardsOf(
        ADMIN,
        outgoing,
        (reference) => reference.ref_key,
        (shard, group, routed) => shard.applyReferences(routed, group),
        { ...this.here(unit), run: (group) => this.arrive(group) },
      );
      succeeded(sent, "sending references to their shards");
      references.delivered(outgoing);
    }
    const steps = references.nextReferrers(pipelineScopes(unit));
    const referrers = steps.flatMap((step) => step.referrers.map((referrer) => ({ ...referrer, hops: step.hops })));
    if (referrers.length > 0) {
      const queued = await this.siblings(unit).onShardsOf(
        ADMIN,
        referrers,
        (referrer) => referrer.key,
        (shard, group, routed) => shard.enqueueReferrers(routed, group),
        { ...this.here(unit), run: (group) => this.enqueue(group) },
      );
      succeeded(queued, "queuing referrers on their shards");
    }
    references.advance(steps);
    return references.waiting();
  }

  private here(unit: UnitConfig) {
    return { shard: unit.shard, layout: unit.layout };
  }
}

/** The parts, or an error naming what failed (the job's run fails, and the alarm runs again). */
function succeeded<T>(parts: T | Failure, what: string): T {
  if (isFailure(parts)) throw new Error(`${what}: ${parts.error}: ${parts.detail}`);
  return parts;
}
