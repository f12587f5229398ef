/** A secret-looking text the publisher test server puts in error answers: it must reach the log, never a unit's errors. */
export const LEAKED_SECRET = "internal host es-7.corp.example, api key sk_live_0123456789abcdef";
