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

beforeAll(async () => {
  session = await startBrowserSession(TOKEN, "console");
  ({ server, browser } = session);

  await ok("PUT", `/admin/createStorageUnit/${RUNNING}`, { contentProcessing: false, reprocessingQueue: true });
  await ok("POST", `/admin/setContentProcessingModules/${RUNNING}`, { modules: { raw: [{ module: "Noop", settings: {} }] } });
  await ok("PUT", `/admin/setReprocessingSettings/${RUNNING}`, { maxItemsPerSecond: THROTTLE, batchSize: 5 });
  const lines = Array.from({ length: RECORDS }, (_, i) =>
    JSON.stringify({ action: "add", scope: "raw", key: `k${String(i).padStart(4, "0")}`, content: { i } }),
  );
  expect((await ok("POST", `/transaction/batch/${RUNNING}`, `${lines.join("\n")}\n`)).count).toBe(RECORDS);

  await ok("PUT", `/admin/createStorageUnit/${FAILING}`, { contentProcessing: false, reprocessingQueue: true });
  await ok("POST", `/admin/setContentProcessingModules/${FAILING}`, {
    modules: { raw: [{ module: "Fault", settings: { failAll: true, error: "the publisher refused it" } }] },
  });
  await ok("PUT", `/admin/setReprocessingSettings/${FAILING}`, { maxAttempts: 1 });
  await ok("PUT", `/transaction/add/${FAILING}/raw`, { key: "doomed/1", content: { n: 1 } });
  await ok("GET", `/reprocess/all/${FAILING}/raw`);
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
}

/** A page of `width` px in a fresh context (its own sessionStorage), confirming every dialog, with every problem recorded. */
async function watchedPage(width: number): Promise<Watched> {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  const watched: Watched = { page, problems: [], expected: new Set() };
  const isExpected = (status: number, url: string) => watched.expected.has(`${status} ${new URL(url).pathname}`);
  page.on("dialog", (dialog) => void dialog.accept());
  page.on("requestfailed", (request) => watched.problems.push(`failed: ${request.url()} (${request.failure()?.errorText})`));
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
  await page.goto(`${server.url}/dashboard`);
  return watched;
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Use token" }).click();
}

const card = (page: Page, unit: string): Locator => page.locator(`section.unit[data-unit="${unit}"]`);
const stat = (page: Page, unit: string, name: string): Locator =>
  card(page, unit)
    .locator(".stats div", { has: page.locator(`dt:text-is("${name}")`) })
    .locator("dd");

/** A stat of a unit's card as a number (the page writes them with separators). */
async function statNumber(page: Page, unit: string, name: string): Promise<number> {
  const text = (await stat(page, unit, name).textContent()) ?? "";
  expect(text, `${name} of ${unit}`).toMatch(/^[\d,]+$/);
  return Number(text.replaceAll(",", ""));
}

describe("the console in a browser", () => {
  it("tells a wrong token it was refused, and shows nothing", async () => {
    const { page, problems, expected } = await watchedPage(1280);
    expected.add("401 /security/whoami");
    await signIn(page, "rs_not-a-token-this-server-issued");
    const error = page.locator("#notices .error");
    await expect.poll(() => error.textContent(), { timeout: 10_000 }).toMatch(/refused: UNAUTHORIZED: the token is not valid/);
    expect(await page.locator("section.unit").count()).toBe(0);
    expect(await page.getByLabel("Token").isVisible()).toBe(true);
    // it stays until dismissed
    await page.waitForTimeout(2_000);
    expect(await error.count()).toBe(1);
    await error.getByRole("button", { name: "Dismiss" }).click();
    expect(await error.count()).toBe(0);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("follows a throttled run as it moves, pauses and resumes it, and shows a failed item to retry", async () => {
    const { page, problems } = await watchedPage(1280);
    await signIn(page, TOKEN);
    await expect.poll(() => page.locator("#who").textContent(), { timeout: 10_000 }).toBe("Signed in with the admin token");
    await card(page, RUNNING).waitFor();
    const started = await ok("GET", `/reprocess/all/${RUNNING}/raw`);
    expect(started.queued).toBe(RECORDS);

    // the count moves, written with separators, with a rate and an ETA
    await expect.poll(() => statNumber(page, RUNNING, "Processed"), { timeout: 20_000 }).toBeGreaterThan(THROTTLE);
    const first = await statNumber(page, RUNNING, "Processed");
    await expect.poll(() => statNumber(page, RUNNING, "Processed"), { timeout: 10_000 }).toBeGreaterThan(first);
    // over a thousand still to go: written with a separator
    expect(await stat(page, RUNNING, "Pending").textContent()).toMatch(/^1,\d{3}$/);
    await expect.poll(() => stat(page, RUNNING, "Rate").textContent(), { timeout: 10_000 }).toMatch(/^[\d.]+\/s$/);
    await expect.poll(() => stat(page, RUNNING, "ETA").textContent(), { timeout: 10_000 }).toMatch(/\d+ (s|min)/);
    // the card is updated in place: the element under the pointer is the same one a poll later
    const pauseButton = card(page, RUNNING).getByRole("button", { name: `Pause or resume ${RUNNING}` });
    await pauseButton.evaluate((button) => button.setAttribute("data-seen", "yes"));
    await page.waitForTimeout(2_000);
    expect(await pauseButton.getAttribute("data-seen")).toBe("yes");

    // the failed item: its error, attempts and time (UTC); Retry queues it again and says so
    await expect.poll(() => stat(page, FAILING, "Failed").textContent(), { timeout: 15_000 }).toBe("1");
    await card(page, FAILING)
      .getByRole("button", { name: `Show the failed items of ${FAILING}` })
      .click();
    const failedRow = card(page, FAILING).locator(".failed tbody tr");
    await expect.poll(() => failedRow.first().textContent(), { timeout: 10_000 }).toContain("doomed/1");
    const cells = await failedRow.first().locator("td").allTextContents();
    expect(cells.slice(0, 3)).toEqual(["raw", "doomed/1", "1"]);
    expect(cells[3]).toContain("the publisher refused it");
    expect(cells[4]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);

    if (process.env.RESTAGE_SCREENSHOTS) await page.screenshot({ path: join(process.env.RESTAGE_SCREENSHOTS, "console.png"), fullPage: true });

    const retried = page.waitForResponse((response) => response.url().endsWith(`/reprocess/retryFailed/${FAILING}`));
    await failedRow
      .first()
      .getByRole("button", { name: /^Retry doomed\/1/ })
      .click();
    expect((await retried).status()).toBe(200);
    await expect
      .poll(() => page.locator("#notices .done").allTextContents(), { timeout: 5_000 })
      .toContain(`1 failed item of ${FAILING} queued again`);

    // pause: the count holds; resume: it moves again
    await pauseButton.click();
    await expect.poll(() => card(page, RUNNING).locator(".badges").textContent(), { timeout: 10_000 }).toContain("paused");
    expect(await pauseButton.textContent()).toBe("Resume");
    await page.waitForTimeout(2_000);
    const held = await statNumber(page, RUNNING, "Processed");
    await page.waitForTimeout(3_000);
    expect(await statNumber(page, RUNNING, "Processed")).toBe(held);
    await pauseButton.click();
    await expect.poll(() => pauseButton.textContent(), { timeout: 10_000 }).toBe("Pause");
    await expect.poll(() => statNumber(page, RUNNING, "Processed"), { timeout: 15_000 }).toBeGreaterThan(held);

    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("follows a run's percentage as it moves and cancels it: it stops short and says cancelled", async () => {
    const { page, problems } = await watchedPage(1280);
    await signIn(page, TOKEN);
    const { runId } = await ok("GET", `/reprocess/all/${RUNNING}/raw`);
    const row = card(page, RUNNING).locator(`.runs tr[data-run="${runId}"]`);
    await row.waitFor({ timeout: 10_000 });
    const share = row.locator(".share");
    await expect.poll(() => share.textContent(), { timeout: 10_000 }).toMatch(/^[\d.]+ %$/);
    const before = Number.parseFloat((await share.textContent())!);
    await expect.poll(async () => Number.parseFloat((await share.textContent())!), { timeout: 15_000 }).toBeGreaterThan(before);
    expect(await row.locator("td").nth(5).textContent()).toMatch(/\/s$/);
    await row.getByRole("button", { name: `Cancel run ${runId} of ${RUNNING}` }).click();
    await expect.poll(() => row.locator("td").nth(2).textContent(), { timeout: 10_000 }).toBe("cancelled");
    await expect
      .poll(() => page.locator("#notices .done").allTextContents(), { timeout: 5_000 })
      .toContainEqual(expect.stringMatching(/cancelled: [\d,]+ items dropped/));
    expect(await row.getByRole("button", { name: /^Cancel/ }).isVisible()).toBe(false);
    const run = (await ok("GET", `/reprocess/run/${RUNNING}/${runId}`)).run as { processed: number; total: number };
    expect(run.processed).toBeLessThan(run.total);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("shows a user the API's 403 when its grant became read-only, then no write buttons", async () => {
    const user = `console-user-${Date.now().toString(36)}`;
    const { token } = (await ok("PUT", `/security/user/${user}`)) as { token: string };
    await ok("PUT", `/security/add/rw/${user}/${RUNNING}`);
    await ok("PUT", `/security/add/r/${user}/${FAILING}`);
    const { page, problems, expected } = await watchedPage(1280);
    expected.add(`403 /reprocess/pause/${RUNNING}`);
    await signIn(page, token);
    await expect.poll(() => page.locator("#who").textContent(), { timeout: 10_000 }).toBe(`Signed in as ${user} (r on ${FAILING}, rw on ${RUNNING})`);
    // read-only from the start: no write control at all, reads still there
    await card(page, FAILING).waitFor();
    const failingButtons = card(page, FAILING).getByRole("button");
    await expect
      .poll(() => failingButtons.evaluateAll((buttons) => buttons.filter((b) => !b.closest("[hidden]")).map((b) => b.textContent)))
      .toEqual(["Failed items"]);
    await card(page, FAILING).getByRole("button", { name: "Failed items" }).click();
    await expect.poll(() => card(page, FAILING).locator(".failed").textContent(), { timeout: 10_000 }).toMatch(/doomed\/1|No failed items/);
    expect(await card(page, FAILING).locator(".failed button.retry:visible").count()).toBe(0);

    // read-write, until an admin takes the write away
    const pauseButton = card(page, RUNNING).getByRole("button", { name: `Pause or resume ${RUNNING}` });
    await pauseButton.waitFor();
    await ok("PUT", `/security/add/r/${user}/${RUNNING}`);
    await pauseButton.click();
    const error = page.locator("#notices .error");
    await expect
      .poll(() => error.textContent(), { timeout: 10_000 })
      .toContain(`403 FORBIDDEN: user '${user}' holds 'r' on storage unit '${RUNNING}' and this route needs 'w'`);
    await expect.poll(() => pauseButton.isVisible(), { timeout: 10_000 }).toBe(false);
    // the error stays through later polls
    await page.waitForTimeout(3_000);
    expect(await error.count()).toBe(1);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("fits a 360 px wide screen with no horizontal scroll of the page", async () => {
    const { page, problems } = await watchedPage(360);
    await signIn(page, TOKEN);
    await card(page, FAILING).waitFor({ timeout: 10_000 });
    await card(page, FAILING)
      .getByRole("button", { name: `Show the failed items of ${FAILING}` })
      .click();
    await page.waitForTimeout(2_000);
    if (process.env.RESTAGE_SCREENSHOTS) await page.screenshot({ path: join(process.env.RESTAGE_SCREENSHOTS, "console-360.png"), fullPage: true });
    const widths = await page.evaluate("({ page: document.documentElement.scrollWidth, screen: window.innerWidth })");
    expect((widths as { page: number; screen: number }).page).toBeLessThanOrEqual((widths as { page: number; screen: number }).screen);
    expect(
      await card(page, RUNNING)
        .getByRole("button", { name: `Pause or resume ${RUNNING}` })
        .isVisible(),
    ).toBe(true);
    const favicon = await page.request.get(`${server.url}/favicon.ico`);
    expect(favicon.status()).toBe(200);
    expect(favicon.headers()["content-type"]).toContain("image/svg+xml");
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
