/**
 * The console's entry point (served as /dashboard/app.js): renders the console (main.tsx)
 * into the page's #app. The views are Hono's JSX for the DOM (hono/jsx/dom), bundled with the
 * rest by scripts/build-console.mjs.
 */
import { mount } from "./main";

const root = document.getElementById("app");
if (!root) throw new Error("the page has no #app");
mount(root);
