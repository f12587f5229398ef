import { z } from "@hono/zod-openapi";
import { log } from "../log";
import { answerCode, buildRequests, entryFor, rejections, tooLargeToSend, type Entry, type PublishRequest } from "./http-formats";
import { howToSetSecret } from "../secrets";
import { networkFailure } from "./network-failure";
import { defineModule, envValue } from "./types";

// RFC 9110 token characters; a value must not smuggle a line break into the request
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[^\r\n\0]*$/;
/**
 * The variables a publisher may send to an endpoint: those named for it. Any other variable
 * (ADMIN_TOKEN, TOKEN_SECRET, whatever else the service holds) stays inside the service,
 * whoever sets the pipeline.
 */
export const PUBLISHER_SECRET_PREFIX = "RESTAGE_PUBLISHER_";
const PUBLISHER_SECRET = new RegExp(`^${PUBLISHER_SECRET_PREFIX}[A-Za-z0-9_]{1,110}$`);
/** How much of an error answer goes to the log (never to the items: see {@link refused}). */
const LOGGED_ANSWER_CHARS = 4000;

const HttpPublisherSettings = z
  .object({
    url: z.url({ protocol: /^https?$/, error: "an http:// or https:// URL" }),
    format: z.enum(["json", "elasticsearch", "solr"]).default("json"),
    /** the Elasticsearch index (`_index` of each action); required for that format */
    index: z.string().min(1).max(255).optional(),
    headers: z
      .record(
        z.string().regex(HEADER_NAME, "a header name (letters, digits and !#$%&'*+.^_`|~-)"),
        z.string().max(8192).regex(HEADER_VALUE, "a header value without line breaks"),
      )
      .default({}),
    /** the name of a secret meant for publishers ({@link PUBLISHER_SECRET_PREFIX}), sent as the Authorization header; checked by {@link secretProblem} */
    authSecret: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, `the name of a secret (letters, digits, '_'), starting with ${PUBLISHER_SECRET_PREFIX}`)
      .optional(),
    timeoutMs: z.number().int().min(100).max(300_000).default(10_000),
    /** a batch is sent in as many requests as it takes to keep each body within this size */
    maxRequestBytes: z
      .number()
      .int()
      .min(1024)
      .max(100 * 1024 * 1024)
      .default(8 * 1024 * 1024),
  })
  .strict()
  .superRefine((settings, context) => {
    if (settings.format === "elasticsearch" && settings.index === undefined) {
      context.addIssue({ code: "custom", path: ["index"], message: "the elasticsearch format needs the index to write to" });
    }
  });

type HttpPublisherSettings = z.infer<typeof HttpPublisherSettings>;

/**
 * Publishes documents and deletions to an HTTP endpoint: collects them in Process and
 * sends them in BatchEnd, in the `json`, `elasticsearch` or `solr` format (see
 * http-formats.ts), in as few requests as keep each body within `maxRequestBytes`
 * (8 MiB by default; Solr: documents and deletions in requests of their own). An item
 * larger than that on its own fails alone.
 *
 * Items an answer rejects (Elasticsearch `"errors":true`, a `json` answer's `errors`)
 * fail alone. Any other 4xx, a 5xx, a timeout or a network error throws: the whole
 * batch is retried by the queue.
 *
 * @example {"module":"HttpPublisher","settings":{"url":"https://search.example.com","format":"elasticsearch","index":"docs","authSecret":"RESTAGE_PUBLISHER_SEARCH_AUTH"}}
 */
export const HttpPublisher = defineModule({
  name: "HttpPublisher",
  description:
    "Sends each batch's documents and deletions to an HTTP endpoint (json, elasticsearch _bulk or solr update format), in requests of at most maxRequestBytes.",
  settings: HttpPublisherSettings,
  checkEnvironment: (settings, env) => (settings.authSecret === undefined ? undefined : secretProblem(settings.authSecret, env)),
  create: ({ settings, env }) => {
    const collected: Entry[] = [];
    return {
      process(item) {
        // written now: modules after this one may go on changing the document
        const entry = entryFor(settings.format, item, settings);
        const tooLarge = tooLargeToSend(entry, settings.maxRequestBytes);
        if (tooLarge) item.fail(`HttpPublisher: ${tooLarge}`);
        else collected.push(entry);
      },
      async batchEnd() {
        // an item a later module failed will run again; publishing it now would be premature
        const entries = collected.filter((entry) => entry.item.failure === undefined);
        const headers = requestHeaders(settings, env);
        for (const request of buildRequests(settings.format, entries, settings, settings.maxRequestBytes)) {
          const answer = await send(request, headers, settings.timeoutMs);
          const rejected = rejections(settings.format, request, answer.text);
          if (!answer.ok && rejected.size === 0) throw new PublishError(refused(request, answer));
          if (rejected.size > 0) logAnswer(request, answer, `${rejected.size} item(s) rejected`);
          for (const [entry, reason] of rejected) entry.item.fail(`HttpPublisher: ${reason}`);
        }
      },
    };
  },
});

/**
 * What is wrong with `authSecret` naming `name`: not a secret meant for publishers, or one
 * that is not set. Checked again before each send: a pipeline stored before the rule must
 * not send another variable either.
 */
function secretProblem(name: string, env: Record<string, unknown>): string | undefined {
  if (!PUBLISHER_SECRET.test(name))
    return `settings.authSecret: '${name}' is not a secret meant for publishers and is never sent to an endpoint: a publisher may name only variables starting with ${PUBLISHER_SECRET_PREFIX}; store the endpoint's credential in one and name that: ${howToSetSecret(`${PUBLISHER_SECRET_PREFIX}SEARCH_AUTH`)}`;
  const value = envValue(env, name);
  if (typeof value === "string" && value.length > 0) return undefined;
  return `settings.authSecret: no secret named '${name}' in the server's environment; ${howToSetSecret(name)}`;
}

function requestHeaders(settings: HttpPublisherSettings, env: Record<string, unknown>): Record<string, string> {
  // one spelling per name, so a configured Content-Type or Authorization replaces ours instead of joining it
  const headers = Object.fromEntries(Object.entries(settings.headers).map(([name, value]) => [name.toLowerCase(), value]));
  if (settings.authSecret !== undefined) {
    const problem = secretProblem(settings.authSecret, env);
    if (problem) throw new PublishError(problem);
    headers.authorization = envValue(env, settings.authSecret) as string;
  }
  return headers;
}

/**
 * POSTs one request. Resolves with any HTTP answer but a 5xx; throws on a 5xx, a timeout
 * or a network error, since none of those says anything about single items.
 */
async function send(
  request: PublishRequest,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<{ ok: boolean; status: number; text: string }> {
  const where = `POST ${shownUrl(request.url)}`;
  try {
    const response = await fetch(request.url, {
      method: "POST",
      headers: { "content-type": request.contentType, ...headers },
      body: request.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const answer = { ok: response.ok, status: response.status, text: await response.text() };
    if (response.status >= 500) throw new PublishError(refused(request, answer));
    return answer;
  } catch (error) {
    if (error instanceof PublishError) throw error;
    const name = error instanceof Error ? error.name : "";
    if (name === "TimeoutError" || name === "AbortError") throw new PublishError(`${where} did not answer within ${timeoutMs} ms (timeoutMs)`);
    throw new PublishError(networkFailure(where, new URL(request.url).origin, error));
  }
}

type Answer = { ok: boolean; status: number; text: string };

/**
 * The error of a refused request as the unit keeps it: status and error code only
 * (`POST <url> answered HTTP 400 mapper_parsing_exception`). Users with `r` read it in
 * the status and the failed list, so the answer's text, which may quote documents or
 * the endpoint's internals, goes to the log only.
 */
function refused(request: PublishRequest, answer: Answer): string {
  const code = answerCode(answer.text);
  const stored = `POST ${shownUrl(request.url)} answered HTTP ${answer.status}${code === undefined ? "" : ` ${code}`}`;
  logAnswer(request, answer, stored);
  return stored;
}

function logAnswer(request: PublishRequest, answer: Answer, stored: string): void {
  log("warn", "publisher-rejected", { url: shownUrl(request.url), status: answer.status, stored, answer: answer.text.slice(0, LOGGED_ANSWER_CHARS) });
}

/** The URL without credentials or query (`?api_key=`), which have no place in an error. */
function shownUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/** A failure of the whole batch; the job records it as `HttpPublisher: <message>`. */
class PublishError extends Error {
  override name = "HttpPublisher";
}
