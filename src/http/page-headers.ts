/**
 * Security headers for the HTML pages (/docs, /dashboard) and their files: a strict
 * Content-Security-Policy and the usual hardening headers. The JSON API does not need
 * them: it renders nothing.
 *
 * The dashboard's CSP is strict: scripts and styles only as files from this origin, nothing
 * inline, requests only to this origin. The docs page (Scalar's reference) is loosened as far
 * as Scalar needs and no further: it writes its styles at run time (<style> elements and
 * style attributes: 'unsafe-inline' for styles only) and shows inline images as data: URLs.
 * Scripts stay files from this origin, and no directive names another host.
 */
import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";

/** The paths of the pages, as Hono middleware patterns. */
export const PAGE_PATHS = ["/docs", "/docs/*", "/dashboard", "/dashboard/*"] as const;

const STRICT = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  connectSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  fontSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
  objectSrc: ["'none'"],
};

const headersWith = (contentSecurityPolicy: typeof STRICT) =>
  secureHeaders({
    contentSecurityPolicy,
    referrerPolicy: "no-referrer",
    xFrameOptions: "DENY",
    crossOriginResourcePolicy: "same-origin",
    crossOriginOpenerPolicy: "same-origin",
  });

const dashboardHeaders = headersWith(STRICT);
const docsHeaders = headersWith({ ...STRICT, styleSrc: ["'self'", "'unsafe-inline'"] });

export const pageSecurityHeaders: MiddlewareHandler = (c, next) =>
  (c.req.path === "/docs" || c.req.path.startsWith("/docs/") ? docsHeaders : dashboardHeaders)(c, next);
