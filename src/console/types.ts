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

export type RunState = "filling" | "running" | "done" | "cancelled" | "replaced";

export interface Run {
  id: string;
  scope: string;
  prefix: string | null;
  since: string | null;
  trigger: "api" | "schedule";
  state: RunState;
  total: number;
  processed: number;
  failed: number;
  startedAt: string;
  finishedAt: string | null;
  itemsPerSecond: number | null;
  etaSeconds: number | null;
}

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
