/** A unit's shards (getStorageUnit's shardStats) against the object limit, and a split's progress. */
import { bytes, count, percent } from "./format";
import type { UnitInfo } from "./types";
import { shardCount } from "./words";

/** What one Durable Object may store on Workers: the bar each shard's bytes are drawn against. */
const OBJECT_LIMIT = 10_000_000_000;

export function Shards(props: { info: UnitInfo }) {
  const { shardStats, splitting } = props.info;
  return (
    <section class="panel shards" aria-labelledby="shards-title">
      <h3 id="shards-title">
        Shards <span class="muted">({shardCount(props.info)})</span>
      </h3>
      {splitting ? (
        <div class="split" role="status">
          <p>
            Splitting from {splitting.from} to {splitting.to} shards: {count(splitting.moved)} of {count(splitting.total)} keys gone through (
            <span class="split-share">{percent(splitting.moved, splitting.total)}</span>). Writes, reads and reprocessing go on meanwhile.
          </p>
          <progress max={Math.max(splitting.total, 1)} value={splitting.moved} aria-label={`split of ${props.info.name}`} />
        </div>
      ) : null}
      <table class="stack">
        <thead>
          <tr>
            <th>Shard</th>
            <th>Records</th>
            <th>Bytes (of 10 GB)</th>
            <th>Pending</th>
            <th>Running</th>
            <th>Failed</th>
          </tr>
        </thead>
        <tbody>
          {shardStats.map((shard) => (
            <tr data-shard={shard.shard}>
              <td data-label="Shard">{shard.shard}</td>
              <td data-label="Records">{count(shard.records)}</td>
              <td data-label="Bytes">
                {bytes(shard.bytes)}{" "}
                <meter min={0} max={OBJECT_LIMIT} high={OBJECT_LIMIT * 0.8} value={shard.bytes} aria-label={`bytes of shard ${shard.shard}`} />
              </td>
              <td data-label="Pending">{count(shard.pending)}</td>
              <td data-label="Running">{count(shard.assigned)}</td>
              <td data-label="Failed">{count(shard.failed)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
