/** Scalar's browser bundle, imported as text (see src/routes/docs-page.ts). */
declare module "*/api-reference/dist/browser/standalone.js" {
  const text: string;
  export default text;
}
