/** The answers the console reads, as API.md gives them (the browser has no access to the server's zod schemas). */

export type Permission = "r" | "w" | "rw";

export interface Whoami {
  admin: boolean;
  user: string | null;
  grants: Record<string, Permission>;
}

export interface Status {
  enabled: boolean;
  paused: boolean;
  filling: boolean;
  fillRemaining?: number;
  pending: number;
  assigned: number;
  failed: number;
  processed: number;
  nextRunAt: string | null;
  lastError: string | null;
  /** with the runs routes (API.md, "Runs, progress and metrics"); absent before */
  itemsPerSecond?: number | null;
  etaSeconds?: number | null;
}

/** Runs as the API answers them: the server's own types (src/unit/runs.ts, no imports of its own). */
export type { Run, RunState } from "../unit/runs";

export interface FailedItem {
  scope: string;
  key: string;
  attempts: number;
  lastError: string | null;
  failedAt: string | null;
}

export interface FailedPage {
  items: FailedItem[];
  nextCursor: string | null;
}
