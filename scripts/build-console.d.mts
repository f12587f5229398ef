/** Types of build-console.mjs, for the TypeScript that calls it (test/support/worker-config.ts). */
export function buildConsole(): Promise<void>;
export function buildConsoleSync(): void;
