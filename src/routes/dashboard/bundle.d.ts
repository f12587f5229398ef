/** The console's built files as strings (see scripts/build-console.mjs). */
declare module "*/dist/console/assets.js" {
  export const CONSOLE_SCRIPT: string;
  export const CONSOLE_STYLES: string;
}
