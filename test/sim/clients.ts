/**
 * The clients of one seed: what they can do to the unit over HTTP, each call noting in the
 * model what its answer says about the unit's state, and the few facts the checks need
 * (stable keys, grants, when a revocation was answered).
 */
import { GONE, KeyModel, outcomeOf } from "./model";
import type { Rng } from "./scheduler";
import type { Answer, World } from "./world";

export const SCOPES = ["books", "authors"] as const;
/** Keys no writer touches: written before the clients start, never deleted, so every walk and every reprocess/all must meet them. */
export const STABLE_PREFIX = "s";
/** Tries of a request a flow needs to land, should objects crash under it again and again. */
const LANDING_ATTEMPTS = 5;

export interface GrantState {
  token: string;
  permission: string;
}

export class Clients {
  readonly model = new KeyModel();
  readonly violations: string[] = [];
  readonly rng: Rng;
  /** the grants on the unit the acknowledged security calls leave; users whose last call was not acknowledged are left out */
  readonly grants = new Map<string, GrantState>();
  readonly uncertainUsers = new Set<string>();
  readonly stableKeys: string[] = [];
  /** a reprocess/all answered OK at `at`: each of `keys` must reach the pipeline after it */
  reprocessedSince: { at: number; keys: string[] } | undefined;
  /** shards may crash (off while the unit is set up and while the final reads run) */
  crashing = false;

  constructor(
    readonly world: World,
    readonly unit: string,
  ) {
    this.rng = world.scheduler.rng;
  }

  request(method: string, path: string, body?: unknown, token?: string): Promise<Answer> {
    return this.world.request(method, path, body, token);
  }

  /**
   * A request a flow needs to land (a user and its grant before the flow starts), sent again
   * while an object crashed under it, as a client retries a 500: the contract allows that
   * answer there (checks.ts), and the calls are idempotent.
   */
  async landed(method: string, path: string): Promise<Answer> {
    for (let attempt = 1; ; attempt++) {
      const answer = await this.request(method, path);
      if (answer.status !== 500 || !answer.crashed || attempt === LANDING_ATTEMPTS) return answer;
    }
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Lets about `steps` other steps happen first (each wait is one step among the pending ones), with no time passing. */
  async yieldSteps(steps: number): Promise<void> {
    for (let i = 0; i < steps; i++) await this.sleep(0);
  }

  now(): number {
    return this.world.scheduler.now;
  }

  async create(shards: number): Promise<Answer> {
    return this.request("PUT", `/admin/createStorageUnit/${this.unit}`, { shards, reprocessingQueue: true });
  }

  async setModules(withJoin: boolean): Promise<Answer> {
    const books = withJoin
      ? [
          { module: "ForeignKeyJoin", settings: { field: "authorId", scope: "authors", as: "author" } },
          { module: "Recorder", settings: { tag: this.unit } },
        ]
      : [{ module: "Recorder", settings: { tag: this.unit } }];
    const answer = await this.request("POST", `/admin/setContentProcessingModules/${this.unit}`, {
      modules: { books, authors: [{ module: "Recorder", settings: { tag: this.unit } }] },
    });
    return answer;
  }

  /** A write, its answer noted; a write refused for a split breaks the contract (writes go on during a split). */
  private async write(method: string, path: string, body: unknown, note: (status: number, answer: Answer) => void): Promise<Answer> {
    const answer = await this.request(method, path, body);
    if (answer.status === 409 && answer.body.message === "STORAGE_UNIT_SPLITTING")
      this.violations.push(`write refused during a split: ${method} ${path} answered 409 STORAGE_UNIT_SPLITTING`);
    note(answer.status, answer);
    return answer;
  }

  add(scope: string, key: string, content: Record<string, unknown>): Promise<Answer> {
    return this.write("POST", `/transaction/add/${this.unit}/${scope}`, { key, content }, (status) =>
      this.model.note(key, scope, JSON.stringify(content), outcomeOf(status)),
    );
  }

  remove(scope: string, key: string): Promise<Answer> {
    return this.write("POST", `/transaction/execute/${this.unit}/${scope}`, { key, action: "delete" }, (status) =>
      this.model.note(key, scope, GONE, outcomeOf(status)),
    );
  }

  batch(lines: Array<{ action: "add" | "delete"; scope: string; key: string; content?: Record<string, unknown> }>): Promise<Answer> {
    const body = lines.map((line) => JSON.stringify(line)).join("\n");
    return this.write("POST", `/transaction/batch/${this.unit}`, body, (status, answer) => {
      const failed = new Set<number>((answer.body.errors ?? []).map((error: { line: number }) => error.line));
      lines.forEach((line, index) => {
        const outcome = status === 200 ? (failed.has(index + 1) ? "unknown" : "applied") : outcomeOf(status);
        this.model.note(line.key, line.scope, line.action === "add" ? JSON.stringify(line.content) : GONE, outcome);
      });
    });
  }

  /** A writer over its own keys: adds, deletes and batches, one at a time. */
  async writer(name: string, ops: number, authors: string[]): Promise<void> {
    const keys = Array.from({ length: 4 }, (_, i) => `${name}-${i}`);
    for (let op = 0; op < ops; op++) {
      const key = this.rng.pick(keys);
      const scope = this.rng.pick(SCOPES);
      const content = scope === "books" ? { title: `${key}@${op}`, authorId: this.rng.pick(authors) } : { name: `${key}@${op}` };
      const roll = this.rng.int(10);
      if (roll < 6) await this.add(scope, key, content);
      else if (roll < 8) await this.remove(scope, key);
      else
        await this.batch([
          { action: "add", scope, key, content },
          {
            action: this.rng.chance(0.5) ? "add" : "delete",
            scope: "books",
            key: this.rng.pick(keys),
            content: { title: `${name}#${op}`, authorId: this.rng.pick(authors) },
          },
        ]);
      if (this.rng.chance(0.5)) await this.sleep(this.rng.int(300));
    }
  }

  /** Stable books (joined to an author nobody changes) written before the clients start. */
  async writeStable(count: number): Promise<void> {
    await this.add("authors", "a-stable", { name: "Stable" });
    for (let i = 0; i < count; i++) {
      const key = `${STABLE_PREFIX}${String(i).padStart(3, "0")}`;
      const answer = await this.add("books", key, { title: key, authorId: "a-stable" });
      if (answer.status !== 200) throw new Error(`setting up: add ${key} answered ${answer.status} ${answer.body.message}`);
      this.stableKeys.push(key);
    }
  }

  /** Walks fetchPage to the end; the keys seen, or undefined when a page failed. */
  async walk(batchSize: number, token?: string): Promise<string[] | undefined> {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 200; pages++) {
      const query = `?batchSize=${batchSize}${cursor ? `&startId=${encodeURIComponent(cursor)}` : ""}`;
      const answer = await this.request("GET", `/access/fetchPage/${this.unit}${query}`, undefined, token);
      if (answer.status !== 200) return undefined;
      for (const record of answer.body.records ?? []) seen.push(String(record.key ?? record.id));
      cursor = answer.body.nextStartId;
      if (!cursor) return seen;
    }
    return seen;
  }

  /** A walk during which the stable keys exist throughout: each must be seen. */
  async checkedWalk(batchSize: number): Promise<void> {
    const seen = await this.walk(batchSize);
    if (!seen) return;
    const have = new Set(seen);
    const missed = this.stableKeys.filter((key) => !have.has(key));
    if (missed.length > 0)
      this.violations.push(
        `fetchPage walk (batchSize ${batchSize}) skipped ${missed.length} keys that existed throughout: ${missed.slice(0, 5).join(", ")}`,
      );
  }

  // ── security ──────────────────────────────────────────────────────────────

  /** A user with a grant on the unit; its token. */
  async user(name: string, permission: "r" | "w" | "rw"): Promise<string> {
    const made = await this.landed("PUT", `/security/user/${name}`);
    if (made.status !== 200) throw new Error(`setting up: user ${name} answered ${made.status}`);
    const token = String(made.body.token);
    const granted = await this.landed("PUT", `/security/add/${permission}/${name}/${this.unit}`);
    if (granted.status !== 200) throw new Error(`setting up: grant to ${name} answered ${granted.status} ${granted.body.message}`);
    this.grants.set(name, { token, permission });
    return token;
  }

  async revoke(name: string): Promise<Answer> {
    const answer = await this.request("DELETE", `/security/remove/${name}/${this.unit}`);
    if (answer.status === 200) this.grants.delete(name);
    else this.uncertainUsers.add(name);
    return answer;
  }

  /** Rotates the user's token; the new one, when the rotation answered OK. */
  async rotate(name: string): Promise<string | undefined> {
    const answer = await this.request("PUT", `/security/user/${name}`);
    if (answer.status !== 200) {
      this.uncertainUsers.add(name);
      return undefined;
    }
    const grant = this.grants.get(name);
    if (grant) this.grants.set(name, { ...grant, token: String(answer.body.token) });
    return String(answer.body.token);
  }

  /** Reads a stable key as `token` until `until()`; any 200 to a read started after `refusedFrom()` is a leak. */
  async readAs(who: string, token: () => string, refusedFrom: () => number | undefined, until: () => boolean): Promise<void> {
    while (!until()) {
      const startedAt = this.now();
      const from = refusedFrom();
      const key = this.rng.pick(this.stableKeys);
      const answer = await this.request("GET", `/access/fetch/${this.unit}/${key}`, undefined, token());
      if (answer.status === 200 && from !== undefined && startedAt > from)
        this.violations.push(`${who} read ${key} (200) at ${startedAt}, after its access ended at ${from}`);
      await this.sleep(50 + this.rng.int(200));
    }
  }

  // ── settling ─────────────────────────────────────────────────────────────

  /** Waits (virtual time) until the unit has no split, queue or fill in progress; false when it never got there. */
  async settle(maxPolls = 40): Promise<boolean> {
    for (let poll = 0; poll < maxPolls; poll++) {
      const status = await this.request("GET", `/reprocess/status/${this.unit}`);
      const b = status.body;
      if (status.status === 200 && !b.splitting && !b.filling && b.pending === 0 && b.assigned === 0) return true;
      // a unit that is not there yet is most often one lease or backoff away: the polls space out
      await this.sleep(Math.min(500 * 2 ** poll, 10_000));
    }
    return false;
  }
}
