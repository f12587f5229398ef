/**
 * The console (GET /dashboard) in chromium against a self-hosted Node server, at 1280 px and
 * at 390 px: the overview, a unit page with its history drawn on a fresh page, a run started
 * from the form and cancelled, a failed item opened to its record and error, a split's
 * progress and the unit's shards, and a read-only user. Every page is watched: no script
 * error, no failed request, no answer of 400 or more the test did not provoke.
 * With RESTAGE_SCREENSHOTS set to a folder, the README's screenshots are written there.
 */
import { join } from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerHandle } from "../e2e/servers";
import { startBrowserSession, type BrowserSession } from "./session";

const TOKEN = `console-${Math.random().toString(36).slice(2)}`;
/** the throttled unit: RECORDS items at THROTTLE per second take about 40 s */
const RUNNING = "console-running";
const RECORDS = 1_200;
const THROTTLE = 30;
/** the unit whose one item always fails */
const FAILING = "console-failing";
/**
 * units split while a test looks at them (one per width): enough keys that the move outlasts
 * a reload and a couple of the unit page's reads (every 2 s) on an idle machine, where the
 * self-hosted server moves about 50,000 keys a second
 */
const SPLIT_RECORDS = 200_000;
const WIDTHS = [1280, 390] as const;
const splitUnit = (width: number) => `console-split-${width}`;
/** a few units more, so the overview has something to search and sort */
const OTHERS = ["archive-2025", "images", "search-index"];

let session: BrowserSession;
let server: ServerHandle;
let browser: Browser;

async function api(method: string, path: string, body?: unknown, token = TOKEN): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function ok(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const answer = await api(method, path, body);
  expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.body)}`).toBe(200);
  return answer.body;
}

async function addMany(unit: string, count: number, content: (i: number) => unknown): Promise<void> {
  for (let start = 0; start < count; start += 5_000) {
    const lines = Array.from({ length: Math.min(5_000, count - start) }, (_, n) =>
      JSON.stringify({ action: "add", scope: "raw", key: `k${String(start + n).padStart(5, "0")}`, content: content(start + n) }),
    );
    expect((await ok("POST", `/transaction/batch/${unit}`, `${lines.join("\n")}\n`)).count).toBe(lines.length);
  }
}

/** Waits (outside a test, where expect.poll is not allowed) until `done` says so. */
async function until(done: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; !(await done()); ) {
    if (Date.now() > end) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  session = await startBrowserSession(TOKEN, "console");
  ({ server, browser } = session);

  await ok("PUT", `/admin/createStorageUnit/${RUNNING}`, { contentProcessing: false, reprocessingQueue: true });
  await ok("POST", `/admin/setContentProcessingModules/${RUNNING}`, { modules: { raw: [{ module: "Noop", settings: {} }] } });
  await ok("PUT", `/admin/setReprocessingSettings/${RUNNING}`, { maxItemsPerSecond: THROTTLE, batchSize: 5 });
  await addMany(RUNNING, RECORDS, (i) => ({ i }));
  // a short run first, so that the unit has a history to draw
  expect((await ok("GET", `/reprocess/all/${RUNNING}/raw?prefix=k0000`)).queued).toBe(10);

  await ok("PUT", `/admin/createStorageUnit/${FAILING}`, { contentProcessing: false, reprocessingQueue: true });
  await ok("POST", `/admin/setContentProcessingModules/${FAILING}`, {
    modules: { raw: [{ module: "Fault", settings: { failAll: true, error: "the publisher refused it" } }] },
  });
  await ok("PUT", `/admin/setReprocessingSettings/${FAILING}`, { maxAttempts: 1 });
  await ok("PUT", `/transaction/add/${FAILING}/raw`, { key: "doomed/1", content: { title: "A doomed document", n: 1 } });
  await ok("GET", `/reprocess/all/${FAILING}/raw`);

  for (const width of WIDTHS) {
    await ok("PUT", `/admin/createStorageUnit/${splitUnit(width)}`, { contentProcessing: false, reprocessingQueue: false });
    await addMany(splitUnit(width), SPLIT_RECORDS, (i) => ({ i, body: "x".repeat(100) }));
  }
  for (const name of OTHERS) await ok("PUT", `/admin/createStorageUnit/${name}`, { reprocessingQueue: true });

  // the short run and the failed item are done before any page opens
  await until(async () => (await ok("GET", `/reprocess/status/${RUNNING}`)).processed === 10, "the short run");
  await until(async () => (await ok("GET", `/reprocess/status/${FAILING}`)).failed === 1, "the failed item");
});

afterAll(async () => {
  await session?.stop();
});

interface Watched {
  page: Page;
  /** responses of 400 or more, failed requests, console errors, page errors, CSP violations */
  problems: string[];
  /** what the test provokes on purpose: `status path` of answers it expects to fail */
  expected: Set<string>;
  /** set while the test itself reloads the page, which aborts the reads the page had in flight */
  reloading: boolean;
}

/** A page of `width` px in a fresh context (its own sessionStorage), confirming every dialog, with every problem recorded. */
async function watchedPage(width: number, hash = ""): Promise<Watched> {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  const watched: Watched = { page, problems: [], expected: new Set(), reloading: false };
  const isExpected = (status: number, url: string) => watched.expected.has(`${status} ${new URL(url).pathname}`);
  page.on("dialog", (dialog) => void dialog.accept());
  page.on("requestfailed", (request) => {
    const error = request.failure()?.errorText;
    if (watched.reloading && error === "net::ERR_ABORTED") return;
    watched.problems.push(`failed: ${request.url()} (${error})`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400 && !isExpected(response.status(), response.url())) watched.problems.push(`${response.status()}: ${response.url()}`);
  });
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    // the browser logs every answer of 400 or more; those the test provoked are not problems
    const status = Number(message.text().match(/status of (\d{3})/)?.[1]);
    if (status && isExpected(status, message.location().url)) return;
    watched.problems.push(`console: ${message.text()} (${message.location().url})`);
  });
  page.on("pageerror", (error) => watched.problems.push(`page error: ${error.message}`));
  await page.exposeFunction("reportCspViolation", (directive: string, blocked: string) => watched.problems.push(`CSP: ${directive} ${blocked}`));
  await page.addInitScript(`document.addEventListener("securitypolicyviolation", (e) => reportCspViolation(e.violatedDirective, e.blockedURI));`);
  await page.goto(`${server.url}/dashboard${hash}`);
  return watched;
}

/** Reloads the page as a person pressing reload would: the reads it had in flight are cut off, which is no problem of the page's. */
async function reload(watched: Watched): Promise<void> {
  watched.reloading = true;
  try {
    await watched.page.reload();
  } finally {
    watched.reloading = false;
  }
}

async function signIn(page: Page, token = TOKEN): Promise<void> {
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Use token" }).click();
}

/** The whole page, or only `part` of it. */
async function screenshot(page: Page, name: string, width: number, part?: Locator): Promise<void> {
  const folder = process.env.RESTAGE_SCREENSHOTS;
  if (!folder) return;
  const path = join(folder, `${name}${width === 1280 ? "" : `-${width}`}.png`);
  await (part ? part.screenshot({ path }) : page.screenshot({ path, fullPage: true }));
}

/** Nothing scrolls sideways, and `control` lies inside the window. */
async function fits(page: Page, width: number, control?: Locator): Promise<void> {
  const scrollWidth = await page.evaluate("document.documentElement.scrollWidth");
  expect(scrollWidth).toBeLessThanOrEqual(width);
  if (!control) return;
  const box = await control.boundingBox();
  expect(box, "the control is laid out").not.toBeNull();
  expect(box!.x).toBeGreaterThanOrEqual(0);
  expect(box!.x + box!.width).toBeLessThanOrEqual(width);
}

const unitPage = (page: Page, unit: string): Locator => page.locator(`article.unit[data-unit="${unit}"]`);
const stat = (scope: Locator, name: string): Locator =>
  scope.locator(".stats div", { has: scope.page().locator(`dt:text-is("${name}")`) }).locator("dd");

describe("the console", () => {
  it("tells a wrong token it was refused, and shows nothing", async () => {
    const { page, problems, expected } = await watchedPage(1280);
    expected.add("401 /security/whoami");
    await signIn(page, "rs_not-a-token-this-server-issued");
    const error = page.locator("#notices .error");
    await expect.poll(() => error.textContent(), { timeout: 10_000 }).toMatch(/refused: UNAUTHORIZED: the token is not valid/);
    expect(await page.locator("table.units").count()).toBe(0);
    expect(await page.getByLabel("Token").isVisible()).toBe(true);
    await error.getByRole("button", { name: "Dismiss" }).click();
    expect(await error.count()).toBe(0);
    expect(problems).toEqual([]);
    await page.context().close();
  });
});

describe.each(WIDTHS)("the console at %i px", (width) => {
  it("lists every unit with its state, searchable and sortable", async () => {
    const { page, problems } = await watchedPage(width);
    await signIn(page);
    await expect.poll(() => page.locator("#who").textContent(), { timeout: 10_000 }).toBe("Signed in with the admin token");
    const row = (unit: string) => page.locator(`table.units tr[data-unit="${unit}"]`);
    await row(FAILING).waitFor({ timeout: 10_000 });
    await expect.poll(() => row(FAILING).locator(".badges").textContent(), { timeout: 10_000 }).toContain("failing");
    // every item fails: no rate is claimed
    expect(await row(FAILING).locator('td[data-label="Rate"]').textContent()).toBe("none: every item fails");
    expect(await row(RUNNING).locator('td[data-label="Records"]').textContent()).toBe("1,200");
    expect(await row(RUNNING).locator('td[data-label="Shards"]').textContent()).toBe("1");
    expect(await row(RUNNING).locator("svg.spark polyline").count()).toBe(1);
    expect(await row(OTHERS[0]!).locator(".badges").textContent()).toBe("idle");
    await screenshot(page, "console-overview", width);
    await fits(page, width, row(RUNNING).getByRole("link", { name: RUNNING }));

    await page.getByLabel("Search units").fill("split");
    await expect.poll(() => page.locator("table.units tbody tr").count()).toBe(WIDTHS.length);
    await page.getByLabel("Search units").fill("");
    await page.getByLabel("Sort by").selectOption("failed");
    await expect.poll(() => page.locator("table.units tbody tr").first().getAttribute("data-unit")).toBe(FAILING);
    // keyboard: the unit's link is reached with Tab and opened with Enter
    await row(RUNNING).getByRole("link", { name: RUNNING }).focus();
    await page.keyboard.press("Enter");
    await unitPage(page, RUNNING).waitFor();
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("draws the unit's throughput and backlog from its history on a fresh page", async () => {
    const { page, problems } = await watchedPage(width, `#/unit/${RUNNING}`);
    await signIn(page);
    const history = unitPage(page, RUNNING).locator("section.history");
    const throughput = history.locator("figure.chart").first();
    await throughput.locator("polyline.series.ok").waitFor({ timeout: 10_000 });
    // the y axis is scaled to what the history holds: the 10 items done before the page opened
    const ticks = (await throughput.locator("text.axis").allTextContents()).map((text) => Number(text.replaceAll(",", ""))).filter(Number.isFinite);
    expect(Math.max(...ticks)).toBeGreaterThanOrEqual(5);
    expect(await throughput.locator("text.axis", { hasText: "UTC" }).count()).toBe(1);
    expect(await history.locator("figure.chart").nth(1).locator("figcaption").textContent()).toContain("Backlog");
    // a range of 24 h: 1440 points
    await history.getByRole("button", { name: "24 h" }).click();
    await expect
      .poll(async () => (await throughput.locator("polyline.series.ok").getAttribute("points"))?.split(" ").length, { timeout: 10_000 })
      .toBe(1440);
    expect(await history.getByRole("button", { name: "24 h" }).getAttribute("aria-pressed")).toBe("true");
    await fits(page, width, history.getByRole("button", { name: "24 h" }));
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("starts a run from the form, follows its percentage and cancels it", async () => {
    const { page, problems, expected } = await watchedPage(width, `#/unit/${RUNNING}`);
    expected.add(`400 /reprocess/all/${RUNNING}/bad%20scope`);
    await signIn(page);
    const unit = unitPage(page, RUNNING);
    const form = unit.getByRole("form", { name: `Start a run of ${RUNNING}` });
    // a scope name the API refuses: its error, shown by the form
    await form.getByLabel("Scope").fill("bad scope");
    await form.getByRole("button", { name: "Start run" }).click();
    await expect.poll(() => form.getByRole("alert").textContent(), { timeout: 10_000 }).toMatch(/^400 INVALID_REQUEST: \S/);

    await form.getByLabel("Scope").fill("raw");
    await form.getByRole("button", { name: "Start run" }).click();
    const started = page.locator("#notices .done", { hasText: /^Run .* of raw started: 1,200 keys to process$/ });
    await started.waitFor({ timeout: 10_000 });
    const runId = (await started.textContent())!.split(" ")[1]!;
    const row = unit.locator(`li.run[data-run="${runId}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator(".run-meta").textContent()).toContain("started by the API");
    const share = row.locator(".share");
    await expect.poll(() => share.textContent(), { timeout: 15_000 }).toMatch(/^[\d.]+ %$/);
    const before = Number.parseFloat((await share.textContent())!);
    await expect.poll(async () => Number.parseFloat((await share.textContent())!), { timeout: 15_000 }).toBeGreaterThan(before);
    // throttled, and said so; the unit's lifetime count is named as such
    await expect.poll(() => unit.locator(".unit-head .badges").textContent(), { timeout: 10_000 }).toContain("throttled");
    expect(await stat(unit, "Processed since created").textContent()).toMatch(/^[\d,]+$/);
    expect(await stat(unit, "Rate").textContent()).toMatch(/\/s \(limit 30\/s\)$/);

    const cancel = row.getByRole("button", { name: `Cancel run ${runId} of ${RUNNING}` });
    await fits(page, width, cancel);
    await cancel.click();
    await expect.poll(() => row.locator(".badge.state").textContent(), { timeout: 10_000 }).toBe("cancelled");
    await expect
      .poll(() => page.locator("#notices .done").allTextContents(), { timeout: 5_000 })
      .toContainEqual(expect.stringMatching(/cancelled: [\d,]+ items dropped/));
    expect(await cancel.count()).toBe(0);
    const run = (await ok("GET", `/reprocess/run/${RUNNING}/${runId}`)).run as { processed: number; total: number; state: string };
    expect(run.state).toBe("cancelled");
    expect(run.processed).toBeLessThan(run.total);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("opens a failed item to its record and error, and retries it", async () => {
    const { page, problems } = await watchedPage(width, `#/unit/${FAILING}`);
    await signIn(page);
    const unit = unitPage(page, FAILING);
    await expect.poll(() => unit.locator(".unit-head .badges").textContent(), { timeout: 10_000 }).toContain("failing");
    expect(await stat(unit, "Rate").textContent()).toBe("none: every item fails");
    const open = unit.getByRole("button", { name: "Open failed item doomed/1 (raw)" });
    await open.waitFor({ timeout: 10_000 });
    await open.click();
    const item = unit.getByRole("region", { name: "Failed item doomed/1" });
    await expect.poll(() => item.locator(".item-error pre").textContent(), { timeout: 10_000 }).toBe("the publisher refused it");
    const content = item.locator('.scope[data-scope="raw"] pre.content');
    await expect.poll(() => content.textContent(), { timeout: 10_000 }).toContain('"title": "A doomed document"');
    expect(await item.locator('.scope[data-scope="raw"] .scope-head').textContent()).toMatch(
      /version \d+ · written \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/,
    );
    await screenshot(page, "console-item", width, unit.locator("section.failed"));
    await fits(page, width, unit.getByRole("button", { name: "Retry doomed/1 (raw)" }));

    const retried = page.waitForResponse((response) => response.url().endsWith(`/reprocess/retryFailed/${FAILING}`));
    await unit.getByRole("button", { name: "Retry doomed/1 (raw)" }).click();
    expect((await retried).status()).toBe(200);
    await expect
      .poll(() => page.locator("#notices .done").allTextContents(), { timeout: 5_000 })
      .toContain(`1 failed item of ${FAILING} queued again`);
    // it fails again (the module refuses everything) and is listed again
    await expect.poll(async () => (await ok("GET", `/reprocess/status/${FAILING}`)).failed, { timeout: 15_000 }).toBe(1);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("shows a split's progress and the unit's shards", async () => {
    const unit = splitUnit(width);
    const watched = await watchedPage(width, `#/unit/${unit}`);
    const { page, problems } = watched;
    await signIn(page);
    await stat(unitPage(page, unit), "Shards").waitFor({ timeout: 10_000 });
    expect(await unitPage(page, unit).locator("tr[data-shard]").count()).toBe(1);
    expect(await ok("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 8 })).toEqual({ message: "OK", splitting: true });
    // the page polls every 2 s, and a split of this size can end within two polls: a reload
    // reads the unit at once (the token stays in the tab), as a person pressing reload would
    await reload(watched);
    const split = unitPage(page, unit).locator(".split");
    await expect
      .poll(() => split.locator("p").textContent(), { timeout: 10_000 })
      .toMatch(
        new RegExp(
          `^Splitting from 1 to 8 shards: [\\d,]+ of ${SPLIT_RECORDS.toLocaleString("en-US")} keys gone through \\([\\d.,]+\\s?%\\)\\. Writes, reads and reprocessing go on meanwhile\\.`,
        ),
      );
    expect(await unitPage(page, unit).locator(".unit-head .badges").textContent()).toContain("splitting");
    await expect.poll(() => stat(unitPage(page, unit), "Shards").textContent()).toBe("1 → 8");
    await expect.poll(() => unitPage(page, unit).locator("tr[data-shard]").count(), { timeout: 10_000 }).toBe(8);
    await screenshot(page, "console-split", width);
    await fits(page, width);
    // the queue is disabled on this unit: no Pause, Reset or run form to refuse
    expect(
      await unitPage(page, unit)
        .getByRole("button", { name: /^(Pause|Reset|Start run)/ })
        .count(),
    ).toBe(0);
    // it ends: the bar goes, the records are all there, spread over the 8 shards
    await expect.poll(() => split.count(), { timeout: 100_000 }).toBe(0);
    const records = await unitPage(page, unit).locator('tr[data-shard] td[data-label="Records"]').allTextContents();
    expect(records.map((text) => Number(text.replaceAll(",", ""))).reduce((a, b) => a + b, 0)).toBe(SPLIT_RECORDS);
    expect(problems).toEqual([]);
    await page.context().close();
  }, 150_000);
});

describe("a user's console", () => {
  it("shows no write button for `r`, and the API's 403 when a grant became read-only", async () => {
    const user = `console-user-${Date.now().toString(36)}`;
    const { token } = (await ok("PUT", `/security/user/${user}`)) as { token: string };
    await ok("PUT", `/security/add/rw/${user}/${RUNNING}`);
    await ok("PUT", `/security/add/r/${user}/${FAILING}`);
    const { page, problems, expected } = await watchedPage(390, `#/unit/${FAILING}`);
    expected.add(`403 /reprocess/pause/${RUNNING}`);
    await signIn(page, token);
    await expect.poll(() => page.locator("#who").textContent(), { timeout: 10_000 }).toBe(`Signed in as ${user} (r on ${FAILING}, rw on ${RUNNING})`);
    const failing = unitPage(page, FAILING);
    await failing.getByRole("button", { name: "Open failed item doomed/1 (raw)" }).waitFor({ timeout: 10_000 });
    // reads only: the failed item opens, and nothing offers a write
    expect(await failing.getByRole("button", { name: /^(Pause|Resume|Reset|Retry|Purge|Start run|Reprocess|Cancel)/ }).count()).toBe(0);

    await page.goto(`${server.url}/dashboard#/unit/${RUNNING}`);
    const pause = unitPage(page, RUNNING).getByRole("button", { name: `Pause ${RUNNING}` });
    await pause.waitFor({ timeout: 10_000 });
    await ok("PUT", `/security/add/r/${user}/${RUNNING}`);
    await pause.click();
    const error = page.locator("#notices .error");
    await expect
      .poll(() => error.textContent(), { timeout: 10_000 })
      .toContain(`403 FORBIDDEN: user '${user}' holds 'r' on storage unit '${RUNNING}' and this route needs 'w'`);
    await expect.poll(() => pause.count(), { timeout: 10_000 }).toBe(0);
    expect(await error.count()).toBe(1);
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
