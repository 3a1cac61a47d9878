// The explorer's page load, as the benchmark harness (crates/traceflow-bench) measures it:
//
//   QUERY_URL=http://127.0.0.1:8081 LOADS=5 [SEARCH='?q=…'] node bench/page-load.mjs
//
// Each load is a fresh Chromium profile (nothing cached) opening QUERY_URL/SEARCH. It prints
// one JSON line per load: when the first result rows were on the page (ms since navigation
// started, from a MutationObserver installed before the page's own script), when the DOM was
// loaded, and every request the page made to the API with its time in the browser.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium } from '../tests/chromium.mjs';

const QUERY_URL = process.env.QUERY_URL;
if (!QUERY_URL) throw new Error('QUERY_URL must be set');
const LOADS = Number(process.env.LOADS ?? 5);
const SEARCH = process.env.SEARCH ?? '';
const API_PATHS = ['/logs', '/services'];

function watchForRows() {
  const seen = () => document.querySelector('main.results .vrow');
  new MutationObserver((_, observer) => {
    if (seen()) {
      window.__firstRowsAt = performance.now();
      observer.disconnect();
    }
  }).observe(document, { childList: true, subtree: true });
}

async function load() {
  const profile = mkdtempSync(join(tmpdir(), 'explorer-bench-'));
  const context = await launchChromium(profile);
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.addInitScript(watchForRows);
    await page.goto(`${QUERY_URL}/${SEARCH}`);
    await page.waitForFunction(() => window.__firstRowsAt !== undefined, null, { timeout: 60_000 });
    return await page.evaluate((apiPaths) => {
      const [navigation] = performance.getEntriesByType('navigation');
      const api = performance
        .getEntriesByType('resource')
        .filter((entry) => apiPaths.some((path) => new URL(entry.name).pathname.startsWith(path)))
        .map((entry) => {
          const url = new URL(entry.name);
          return {
            path: url.pathname + url.search,
            started_ms: entry.startTime,
            duration_ms: entry.responseEnd - entry.startTime,
          };
        });
      return {
        first_rows_ms: window.__firstRowsAt,
        dom_content_loaded_ms: navigation.domContentLoadedEventEnd,
        rows_shown: document.querySelectorAll('main.results .vrow').length,
        api,
      };
    }, API_PATHS);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

for (let n = 0; n < LOADS; n++) {
  console.log(JSON.stringify(await load()));
}
