// The console's script and styles are static files (dist/assets/dashboard, built from
// src/console by scripts/build-console.mjs), served through the ASSETS binding.

/** /favicon.ico: a small SVG (browsers ask for it whatever the page says). */
export const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#2563eb"/><path d="M7 23V9h8a5 5 0 0 1 0 10h-3l6 4" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round" stroke-linejoin="round"/></svg>`;
