/**
 * GET /dashboard: the console's page, in Hono JSX. It holds no data: the script
 * (src/console, served as /dashboard/app.js) asks for a token and reads the API with it.
 * No inline script or style, so the page's CSP stays strict (src/http/page-headers.ts).
 */

function Page() {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>restage console</title>
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <link rel="icon" href="/favicon.ico" type="image/svg+xml" />
        <link rel="stylesheet" href="/dashboard/app.css" />
      </head>
      <body>
        <div id="app" />
        <script src="/dashboard/app.js" />
      </body>
    </html>
  );
}

export function dashboardPage(): string {
  return `<!doctype html>${(<Page />).toString()}`;
}
