/**
 * Security headers for the HTML pages (/docs, /dashboard) and their files: a strict
 * Content-Security-Policy (scripts and styles only as files from this origin, nothing
 * inline, no framing, no plugins, requests only to this origin) and the usual hardening
 * headers. The JSON API does not need them: it renders nothing.
 */
import { secureHeaders } from "hono/secure-headers";

/** The paths of the pages, as Hono middleware patterns. */
export const PAGE_PATHS = ["/docs", "/docs/*", "/dashboard", "/dashboard/*"] as const;

export const pageSecurityHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    // pages load their script and stylesheet as files: nothing inline runs or styles
    styleSrc: ["'self'"],
    connectSrc: ["'self'"],
    imgSrc: ["'self'", "data:"],
    fontSrc: ["'self'"],
    baseUri: ["'none'"],
    formAction: ["'none'"],
    frameAncestors: ["'none'"],
    objectSrc: ["'none'"],
  },
  referrerPolicy: "no-referrer",
  xFrameOptions: "DENY",
  crossOriginResourcePolicy: "same-origin",
  crossOriginOpenerPolicy: "same-origin",
});
