/** The console's two hooks: data read from the API again and again, and the page's address. */
import { useEffect, useState } from "hono/jsx/dom";
import { describe, useSession } from "./session";

export interface Polled<T> {
  data: T | undefined;
  /** the last read's error, as the user should read it; cleared by the next read that succeeds */
  error: string | undefined;
}

/**
 * `load` now, then every `ms` after the last answer, and at once when `deps` or the session's
 * tick change. The answer of a read started before a change is dropped.
 */
export function usePolled<T>(load: () => Promise<T>, ms: number, deps: unknown[]): Polled<T> {
  const { tick } = useSession();
  const [state, setState] = useState<Polled<T>>({ data: undefined, error: undefined });
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      try {
        const data = await load();
        if (live) setState({ data, error: undefined });
      } catch (error) {
        if (live) setState((previous) => ({ data: previous.data, error: describe(error) }));
      }
      if (live) timer = setTimeout(read, ms);
    };
    void read();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return state;
}

/** The part of the address after `#`, decoded into its segments: `#/unit/docs` is ["unit", "docs"]. */
export function useRoute(): string[] {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return hash
    .replace(/^#\/?/, "")
    .split("/")
    .filter((part) => part !== "")
    .map(decodeURIComponent);
}

/** The address of a view: `href("unit", name)` is `#/unit/<name>`. */
export function href(...segments: string[]): string {
  return `#/${segments.map(encodeURIComponent).join("/")}`;
}
