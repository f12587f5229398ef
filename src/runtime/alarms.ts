/**
 * Durable Object alarms for the self-hosted objects: one alarm per object, persisted in
 * the host database so that an alarm set before a crash or restart still fires, and
 * delivered with the platform's guarantees: at least once (the row is removed only after
 * `alarm()` returns), one `alarm()` at a time per object, and up to six retries with
 * exponential backoff from 2 s when `alarm()` throws and sets no new alarm.
 *
 * Table `alarms` (namespace, id, name, at) in the host database.
 */
import type { SqliteDatabase } from "./platform";
import { log } from "../log";

/** setTimeout's longest delay; a later alarm is reached in steps. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;
const MAX_RETRIES = 6;
const FIRST_RETRY_MS = 2_000;

export interface PersistedAlarm {
  namespace: string;
  id: string;
  name: string | null;
  at: number;
}

export interface AlarmInvocationInfo {
  retryCount: number;
  isRetry: boolean;
}

/** The `alarms` table of the host database. */
export class AlarmStore {
  constructor(private readonly db: SqliteDatabase) {
    db.exec(
      "CREATE TABLE IF NOT EXISTS alarms (namespace TEXT NOT NULL, id TEXT NOT NULL, name TEXT, at REAL NOT NULL, PRIMARY KEY (namespace, id))",
    );
  }

  all(): PersistedAlarm[] {
    return this.db.query("SELECT namespace, id, name, at FROM alarms ORDER BY at", []) as unknown as PersistedAlarm[];
  }

  put(alarm: PersistedAlarm): void {
    this.db.query(
      "INSERT INTO alarms (namespace, id, name, at) VALUES (?, ?, ?, ?) ON CONFLICT (namespace, id) DO UPDATE SET at = excluded.at, name = excluded.name",
      [alarm.namespace, alarm.id, alarm.name, alarm.at],
    );
  }

  remove(namespace: string, id: string): void {
    this.db.query("DELETE FROM alarms WHERE namespace = ? AND id = ?", [namespace, id]);
  }
}

/** The alarm of one object: what `getAlarm/setAlarm/deleteAlarm` act on, and the timer that fires it. */
export class ObjectAlarm {
  private scheduled: number | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private retryCount = 0;
  private stopped = false;

  constructor(
    private readonly store: AlarmStore,
    private readonly owner: { namespace: string; id: string; name: string | null },
    /** runs the object's `alarm()` (through its input gate) */
    private readonly deliver: (info: AlarmInvocationInfo) => Promise<void>,
  ) {}

  /** The pending alarm time; null while none is set, including while `alarm()` runs and has not set a new one. */
  get(): number | null {
    return this.scheduled;
  }

  set(at: number): void {
    this.retryCount = 0;
    this.schedule(at);
  }

  delete(): void {
    this.scheduled = null;
    this.store.remove(this.owner.namespace, this.owner.id);
    this.clearTimer();
  }

  /** Takes up an alarm found in the host database at start. */
  restore(at: number): void {
    this.scheduled = at;
    this.arm();
  }

  /** Stops firing (the process is shutting down); the persisted time stays for the next start. */
  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }

  private schedule(at: number): void {
    this.scheduled = at;
    this.store.put({ ...this.owner, at });
    this.arm();
  }

  private arm(): void {
    this.clearTimer();
    if (this.scheduled === null || this.running || this.stopped) return;
    const delay = Math.min(Math.max(0, this.scheduled - Date.now()), LONGEST_TIMER_MS);
    this.timer = setTimeout(() => void this.fire(), delay);
  }

  private async fire(): Promise<void> {
    this.timer = undefined;
    if (this.scheduled === null || this.running || this.stopped) return;
    if (this.scheduled > Date.now()) return this.arm();
    const retryCount = this.retryCount;
    this.scheduled = null;
    this.running = true;
    try {
      await this.deliver({ retryCount, isRetry: retryCount > 0 });
      this.retryCount = 0;
      if (this.scheduled === null) this.store.remove(this.owner.namespace, this.owner.id);
    } catch (error) {
      log("error", "alarm-failed", { namespace: this.owner.namespace, name: this.owner.name, retryCount, error: String(error) });
      // on shutdown the persisted row stays: the next start fires it again
      if (this.scheduled !== null || this.stopped) return;
      if (retryCount < MAX_RETRIES) {
        this.retryCount = retryCount + 1;
        this.schedule(Date.now() + FIRST_RETRY_MS * 2 ** retryCount);
      } else {
        this.retryCount = 0;
        this.store.remove(this.owner.namespace, this.owner.id);
      }
    } finally {
      this.running = false;
      this.arm();
    }
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
