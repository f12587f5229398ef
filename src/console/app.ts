/**
 * The console's entry point (served as /dashboard/app.js). The page holds no data: it asks
 * for a token, keeps it in sessionStorage (this tab only), asks GET /security/whoami what
 * the token may do, and then polls the units it may see every POLL_MS, updating each
 * unit's card in place.
 */
import { Api, ApiFailure, path } from "./api";
import { byId, setText } from "./dom";
import { Notices } from "./notices";
import type { Session } from "./session";
import type { Run, Status, Whoami } from "./types";
import { UnitCard } from "./unit-card";

const POLL_MS = 1_500;
/** whoami is asked again now and then, so a grant given or taken shows without a reload */
const WHOAMI_EVERY_MS = 15_000;
const RUNS_SHOWN = 5;
const TOKEN_KEY = "restage-token";

const notices = new Notices(byId<HTMLUListElement>("notices"));
const form = byId<HTMLFormElement>("login");
const tokenInput = byId<HTMLInputElement>("token");
const who = byId<HTMLElement>("who");
const signOut = byId<HTMLButtonElement>("sign-out");
const unitsArea = byId<HTMLElement>("units");
const emptyNote = byId<HTMLElement>("no-units");

let session: (Session & { whoami: Whoami | undefined; whoamiAt: number }) | undefined;
const cards = new Map<string, UnitCard>();
let timer: ReturnType<typeof setTimeout> | undefined;

function start(token: string): void {
  stop();
  const api = new Api(token);
  session = {
    api,
    notices,
    runsAvailable: undefined,
    whoami: undefined,
    whoamiAt: 0,
    refresh: () => schedule(0),
    accessChanged: () => {
      if (session) session.whoamiAt = 0;
    },
  };
  schedule(0);
}

function stop(): void {
  clearTimeout(timer);
  session = undefined;
  for (const card of cards.values()) card.element.remove();
  cards.clear();
  setText(who, "");
  signOut.hidden = true;
  form.hidden = false;
  emptyNote.hidden = true;
}

function schedule(ms: number): void {
  clearTimeout(timer);
  timer = setTimeout(() => void poll(), ms);
}

async function poll(): Promise<void> {
  const current = session;
  if (!current) return;
  try {
    if (Date.now() - current.whoamiAt > WHOAMI_EVERY_MS) {
      current.whoami = await current.api.call<Whoami>("GET", "/security/whoami");
      current.whoamiAt = Date.now();
      showWho(current.whoami);
    }
    const whoami = current.whoami!;
    const names = whoami.admin
      ? (await current.api.call<{ storageUnits: Array<{ name: string }> }>("GET", "/admin/listStorageUnits")).storageUnits.map((unit) => unit.name)
      : Object.keys(whoami.grants).sort();
    if (session !== current) return;
    syncCards(current, names, whoami);
    await Promise.all(names.map((name) => pollUnit(current, name, whoami)));
  } catch (error) {
    if (session !== current) return;
    if (error instanceof ApiFailure && error.status === 401) {
      notices.error(`The token was refused: ${error.code}: ${error.detail}`);
      sessionStorage.removeItem(TOKEN_KEY);
      stop();
      return;
    }
    notices.error(error instanceof ApiFailure ? `${error.status} ${error.code}: ${error.detail}` : String(error));
  }
  if (session === current) schedule(POLL_MS);
}

function showWho(whoami: Whoami): void {
  const grants = Object.entries(whoami.grants).map(([unit, permission]) => `${permission} on ${unit}`);
  setText(
    who,
    whoami.admin ? "Signed in with the admin token" : `Signed in as ${whoami.user}${grants.length ? ` (${grants.join(", ")})` : ", with no grants"}`,
  );
  form.hidden = true;
  signOut.hidden = false;
}

const mayRead = (whoami: Whoami, unit: string) => whoami.admin || (whoami.grants[unit] ?? "").includes("r");
const mayWrite = (whoami: Whoami, unit: string) => whoami.admin || (whoami.grants[unit] ?? "").includes("w");

function syncCards(current: Session, names: string[], whoami: Whoami): void {
  const wanted = new Set(names);
  for (const [name, card] of cards) {
    if (!wanted.has(name)) {
      card.element.remove();
      cards.delete(name);
    }
  }
  for (const name of names) {
    let card = cards.get(name);
    if (!card) {
      card = new UnitCard(name, current);
      cards.set(name, card);
      unitsArea.append(card.element);
    }
    card.setAccess(mayRead(whoami, name), mayWrite(whoami, name));
  }
  emptyNote.hidden = names.length > 0;
}

async function pollUnit(current: Session, name: string, whoami: Whoami): Promise<void> {
  if (!mayRead(whoami, name)) return;
  const [status, runs] = await Promise.all([
    current.api.call<Status & { message: string }>("GET", path("reprocess", "status", name)).catch((error: unknown) => asFailure(error)),
    runsOf(current, name),
  ]);
  cards.get(name)?.update(status, runs);
}

/** The unit's latest runs; undefined when the server has no runs routes (it answers NOT_FOUND for the route), quietly. */
async function runsOf(current: Session, name: string): Promise<Run[] | undefined> {
  if (current.runsAvailable === false) return undefined;
  try {
    const { runs } = await current.api.call<{ runs: Run[] }>("GET", `${path("reprocess", "runs", name)}?limit=${RUNS_SHOWN}`);
    current.runsAvailable = true;
    return runs;
  } catch (error) {
    // no such route (NOT_FOUND, or not JSON at all): a server without runs; any other error is the unit's and passes
    if (error instanceof ApiFailure && error.status === 404 && (error.code === "NOT_FOUND" || error.code.startsWith("HTTP_")))
      current.runsAvailable = false;
    return undefined;
  }
}

function asFailure(error: unknown): ApiFailure {
  return error instanceof ApiFailure ? error : new ApiFailure(0, "ERROR", String(error));
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const token = tokenInput.value.trim();
  if (!token) return notices.error("Enter a token: the admin token or a user's token.");
  tokenInput.value = "";
  notices.clearErrors();
  sessionStorage.setItem(TOKEN_KEY, token);
  start(token);
});

signOut.addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  stop();
});

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) start(saved);
