/**
 * What every view shares: the API with the token, whoami's answer, the notices, and a
 * runner for a user's actions (ask first when asked to, say what happened, poll again).
 */
import { createContext, useContext } from "hono/jsx/dom";
import { type Api, ApiFailure } from "./api";
import type { Whoami } from "./types";

export interface Notices {
  error(text: string): void;
  confirm(text: string): void;
}

export interface Session {
  api: Api;
  whoami: Whoami;
  notices: Notices;
  /** asks whoami again (a refusal may mean a grant was taken away) and polls every view again */
  refresh(): void;
  /** bumped by refresh(): views that poll read it to poll again at once */
  tick: number;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("no session: views render inside <SessionContext.Provider>");
  return session;
}

export const mayRead = (whoami: Whoami, unit: string) => whoami.admin || (whoami.grants[unit] ?? "").includes("r");
export const mayWrite = (whoami: Whoami, unit: string) => whoami.admin || (whoami.grants[unit] ?? "").includes("w");

/** The text of an error as the user should read it: the API's status, code and detail. */
export function describe(error: unknown): string {
  return error instanceof ApiFailure ? `${error.status} ${error.code}: ${error.detail}` : String(error);
}

/**
 * Runs a user's action named `what`: asks `question` first when given, says what it did (or
 * the API's error, kept until dismissed), then polls again. Answers whether it succeeded.
 */
export async function act(session: Session, what: string, question: string | null, action: () => Promise<string>): Promise<boolean> {
  if (question !== null && !window.confirm(question)) return false;
  try {
    session.notices.confirm(await action());
    return true;
  } catch (error) {
    session.notices.error(`${what} failed: ${describe(error)}`);
    return false;
  } finally {
    session.refresh();
  }
}
