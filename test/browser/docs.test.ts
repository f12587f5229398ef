import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerHandle } from "../e2e/servers";
import { startBrowserSession, type BrowserSession } from "./session";

const TOKEN = `browser-${Math.random().toString(36).slice(2)}`;

let session: BrowserSession;
let server: ServerHandle;
let browser: Browser;
/** the server's /openapi.json: an operation's summary is its heading on the page */
let documentOf: { paths: Record<string, Record<string, { summary?: string; tags?: string[] }>> };

beforeAll(async () => {
  session = await startBrowserSession(TOKEN, "browser");
  ({ server, browser } = session);
  documentOf = await (await fetch(`${server.url}/openapi.json`)).json();
});

afterAll(async () => {
  await session?.stop();
});

interface Watched {
  page: Page;
  /** every URL the page asked for */
  requests: string[];
  /** requests not yet answered */
  inFlight: Set<unknown>;
  /** requests that failed or got an error status, console errors, page errors and CSP violations */
  problems: string[];
}

interface CspViolation {
  violatedDirective: string;
  blockedURI: string;
  sourceFile: string;
  lineNumber: number;
  columnNumber: number;
}

/**
 * Whether a violation is zod's feature probe in Scalar's bundle: zod tries `Function("")` once
 * to learn whether it may compile its parsers, catches the refusal and parses without
 * compiling. The CSP keeps refusing eval; only that one caught probe is expected.
 */
async function isZodJitProbe({ violatedDirective, blockedURI, sourceFile, lineNumber, columnNumber }: CspViolation): Promise<boolean> {
  if (violatedDirective !== "script-src" || blockedURI !== "eval" || sourceFile !== `${server.url}/docs/scalar.js`) return false;
  scalarLines ??= (await (await fetch(sourceFile)).text()).split("\n");
  const around = scalarLines[lineNumber - 1]?.slice(Math.max(0, columnNumber - 40), columnNumber + 40) ?? "";
  return around.includes("try{return Function(``),!0}catch{return!1}");
}
let scalarLines: string[] | undefined;

/** Resolves once the page has had no request in flight for half a second. */
async function settled(page: Page, inFlight: Set<unknown>): Promise<void> {
  let quietSince = Date.now();
  while (Date.now() - quietSince < 500) {
    if (inFlight.size > 0) quietSince = Date.now();
    await page.waitForTimeout(100);
  }
}

/** A page of `width` px with every request, failure, console error and CSP violation recorded. */
async function watchedPage(width: number): Promise<Watched> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const watched: Watched = { page, requests: [], inFlight: new Set(), problems: [] };
  page.on("request", (request) => {
    watched.requests.push(request.url());
    watched.inFlight.add(request);
  });
  page.on("requestfinished", (request) => watched.inFlight.delete(request));
  page.on("requestfailed", (request) => watched.inFlight.delete(request));
  page.on("requestfailed", (request) => watched.problems.push(`failed: ${request.url()} (${request.failure()?.errorText})`));
  page.on("response", (response) => {
    if (response.status() >= 400) watched.problems.push(`${response.status()}: ${response.url()}`);
  });
  page.on("console", (message) => {
    if (message.type() === "error") watched.problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => watched.problems.push(`page error: ${error.message}`));
  await page.exposeFunction("reportCspViolation", async (violation: CspViolation) => {
    if (!(await isZodJitProbe(violation))) watched.problems.push(`CSP: ${JSON.stringify(violation)}`);
  });
  // a string, run in the page before its own scripts (the tests are typed without the DOM's types)
  await page.addInitScript(`document.addEventListener("securitypolicyviolation", (e) => reportCspViolation({
    violatedDirective: e.violatedDirective, blockedURI: e.blockedURI, sourceFile: e.sourceFile, lineNumber: e.lineNumber, columnNumber: e.columnNumber }));`);
  return watched;
}

/**
 * The section of the page that documents `method path`, once rendered: Scalar renders a tag's
 * operations as they come into view, so the page is sent to the operation's own address.
 */
async function operationSection(page: Page, method: string, path: string) {
  const operation = documentOf.paths[path]?.[method];
  expect(operation?.summary, `${method} ${path} in /openapi.json`).toBeTruthy();
  await page.goto(`${server.url}/docs#tag/${operation!.tags![0]!.toLowerCase()}/${method.toUpperCase()}${path}`);
  const heading = page.getByRole("heading", { name: operation!.summary, exact: true });
  await heading.first().waitFor({ timeout: 30_000 });
  return page.locator("section", { has: heading }).first();
}

const otherHosts = (requests: string[]) => requests.filter((url) => !url.startsWith(`${server.url}/`) && !url.startsWith("data:"));

describe("GET /docs in a browser", () => {
  it.each([1280, 360])("renders the operations, parameters and answers at %i px from this origin alone", async (width) => {
    const { page, requests, inFlight, problems } = await watchedPage(width);
    const section = await operationSection(page, "get", "/reprocess/status/{unit}");
    await expect.poll(() => section.textContent(), { timeout: 10_000 }).toContain("Path Parameters");
    const text = await section.textContent();
    expect(text).toContain("unit");
    expect(text).toContain("Responses");
    expect(text).toContain("200");
    // a request body is shown as its fields, not as an unresolved $ref
    const addSection = await operationSection(page, "post", "/transaction/add/{unit}/{scope}");
    await expect.poll(() => addSection.textContent(), { timeout: 10_000 }).toContain("Body");
    expect(await addSection.textContent()).toMatch(/\bkey\b[\s\S]*\bcontent\b|\bcontent\b[\s\S]*\bkey\b/);
    expect(await page.content()).not.toContain("#/components/schemas/");
    if (process.env.RESTAGE_SCREENSHOTS) {
      await operationSection(page, "get", "/reprocess/status/{unit}");
      await page.screenshot({ path: join(process.env.RESTAGE_SCREENSHOTS, `docs-${width}.png`) });
    }
    await settled(page, inFlight);
    expect(otherHosts(requests)).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("tries a request with the token typed in the auth box, against this server", async () => {
    const unit = "browser-unit";
    expect(
      (await fetch(`${server.url}/admin/createStorageUnit/${unit}`, { method: "PUT", headers: { authorization: `Bearer ${TOKEN}` } })).status,
    ).toBe(200);
    const { page, requests, inFlight, problems } = await watchedPage(1280);
    await page.goto(`${server.url}/docs`);
    await page.getByPlaceholder("Token").first().fill(TOKEN);
    const section = await operationSection(page, "get", "/reprocess/status/{unit}");
    await section.getByRole("button", { name: /test request/i }).click();
    // the path placeholder {unit} is a field of the form
    const unitField = page.locator('tr#unit [contenteditable="true"][aria-label*="Value"]');
    await unitField.click();
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.type(unit);
    const sent = page.waitForRequest((request) => request.url() === `${server.url}/reprocess/status/${unit}`);
    await page.getByRole("button", { name: /^send/i }).first().click();
    const request = await sent;
    expect(request.headers().authorization).toBe(`Bearer ${TOKEN}`);
    const response = await request.response();
    expect(response?.status()).toBe(200);
    expect(await response?.json()).toMatchObject({ message: "OK", enabled: false, pending: 0 });
    await expect.poll(() => page.getByText('"processed"').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await settled(page, inFlight);
    expect(otherHosts(requests)).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });
});
