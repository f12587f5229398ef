/** Types of build-assets.mjs, for the TypeScript that calls it (test/support/worker-config.ts). */
export const ASSETS_DIR: string;
export function buildAssets(): Promise<void>;
export function buildAssetsSync(): void;
