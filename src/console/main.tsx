/**
 * The console: a token form, then the overview (#/) or a unit's page (#/unit/<name>). The
 * token is kept in sessionStorage (this tab only); whoami says what it may do, asked again
 * now and then and after any refusal, so buttons follow grants.
 */
import { render, useCallback, useEffect, useMemo, useState } from "hono/jsx/dom";
import { Api, ApiFailure } from "./api";
import { useRoute } from "./hooks";
import { Overview } from "./overview";
import { describe, type Notices, type Session, SessionContext } from "./session";
import type { Whoami } from "./types";
import { UnitPage } from "./unit-page";

const TOKEN_KEY = "restage-token";
const WHOAMI_EVERY_MS = 15_000;
const CONFIRMATION_MS = 6_000;

interface Notice {
  id: number;
  text: string;
  kind: "error" | "done";
  times: number;
}

let noticeIds = 0;

function useNotices(): [Notice[], Notices, (id: number) => void] {
  const [list, setList] = useState<Notice[]>([]);
  const notices = useMemo<Notices>(
    () => ({
      // an error stays until dismissed; the same one again is counted, not repeated
      error: (text) =>
        setList((old) =>
          old.some((notice) => notice.kind === "error" && notice.text === text)
            ? old.map((notice) => (notice.kind === "error" && notice.text === text ? { ...notice, times: notice.times + 1 } : notice))
            : [...old, { id: ++noticeIds, text, kind: "error", times: 1 }],
        ),
      confirm: (text) => {
        const id = ++noticeIds;
        setList((old) => [...old, { id, text, kind: "done", times: 1 }]);
        setTimeout(() => setList((old) => old.filter((notice) => notice.id !== id)), CONFIRMATION_MS);
      },
    }),
    [],
  );
  const dismiss = useCallback((id: number) => setList((old) => old.filter((notice) => notice.id !== id)), []);
  return [list, notices, dismiss];
}

function App() {
  const [token, setToken] = useState<string | null>(sessionStorage.getItem(TOKEN_KEY));
  const [whoami, setWhoami] = useState<Whoami | undefined>(undefined);
  const [tick, setTick] = useState(0);
  const [list, notices, dismiss] = useNotices();
  const api = useMemo(() => (token ? new Api(token) : undefined), [token]);
  const route = useRoute();

  const signOut = useCallback(() => {
    sessionStorage.removeItem(TOKEN_KEY);
    setToken(null);
    setWhoami(undefined);
  }, []);

  useEffect(() => {
    if (!api) return;
    let live = true;
    const ask = () =>
      api
        .call<Whoami>("GET", "/security/whoami")
        .then((answer) => live && setWhoami({ admin: answer.admin, user: answer.user, grants: answer.grants }))
        .catch((error: unknown) => {
          if (!live) return;
          if (error instanceof ApiFailure && error.status === 401) {
            notices.error(`The token was refused: ${error.code}: ${error.detail}`);
            signOut();
          } else notices.error(describe(error));
        });
    void ask();
    const timer = setInterval(ask, WHOAMI_EVERY_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [api, tick]);

  const session = useMemo<Session | null>(
    () => (api && whoami ? { api, whoami, notices, tick, refresh: () => setTick((n) => n + 1) } : null),
    [api, whoami, tick],
  );

  return (
    <>
      <header class="top">
        <h1>
          <a href="#/">restage</a>
        </h1>
        {token ? (
          <>
            <span id="who">{whoami ? whoText(whoami) : "Checking the token…"}</span>
            <button type="button" onClick={signOut}>
              Sign out
            </button>
          </>
        ) : (
          <form
            id="login"
            onSubmit={(event: Event) => {
              event.preventDefault();
              const value = String(new FormData(event.target as HTMLFormElement).get("token") ?? "").trim();
              if (!value) return notices.error("Enter a token: the admin token or a user's token.");
              sessionStorage.setItem(TOKEN_KEY, value);
              setToken(value);
            }}
          >
            <input name="token" type="password" placeholder="admin or user token" autocomplete="off" aria-label="Token" />
            <button type="submit">Use token</button>
          </form>
        )}
      </header>
      <main>
        <ul id="notices" aria-live="polite">
          {list.map((notice) => (
            <li class={notice.kind}>
              <span class="text">{notice.text}</span>
              {notice.times > 1 ? <span class="times"> (×{notice.times})</span> : null}
              {notice.kind === "error" ? (
                <button type="button" class="dismiss" onClick={() => dismiss(notice.id)}>
                  Dismiss
                </button>
              ) : null}
            </li>
          ))}
        </ul>
        {session ? (
          <SessionContext.Provider value={session}>
            {route[0] === "unit" && route[1] ? <UnitPage name={route[1]} /> : <Overview />}
          </SessionContext.Provider>
        ) : null}
      </main>
    </>
  );
}

function whoText(whoami: Whoami): string {
  if (whoami.admin) return "Signed in with the admin token";
  const grants = Object.entries(whoami.grants).map(([unit, permission]) => `${permission} on ${unit}`);
  return `Signed in as ${whoami.user}${grants.length ? ` (${grants.join(", ")})` : ", with no grants"}`;
}

export function mount(root: HTMLElement): void {
  render(<App />, root);
}
