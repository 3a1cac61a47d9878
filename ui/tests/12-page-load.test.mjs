// The page itself: at most 250 KB gzipped for everything it loads, nothing from any other
// host, served with its content types and cache headers by the query service.

import assert from 'node:assert/strict';
import { SHOP } from './fixture.mjs';
import { browserTest, QUERY_URL, searchOf, waitForCount } from './harness.mjs';
import { shop } from './fixture.mjs';

const BUDGET_BYTES = 250_000;

browserTest('page load: within 250 KB gzipped, every request to the query service', async ({ open, requests, proxy }) => {
  const page = await open(searchOf('', SHOP));
  await waitForCount(page, shop.length);
  const files = await page.evaluate(() =>
    [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]
      .filter((entry) => !entry.name.includes('/logs') && !entry.name.includes('/services'))
      .map((entry) => ({ name: entry.name, bytes: entry.encodedBodySize })),
  );
  const total = files.reduce((sum, file) => sum + file.bytes, 0);
  console.log(`# the page loads ${files.length} files, ${total} bytes as sent (gzip): ${files.map((f) => `${new URL(f.name).pathname} ${f.bytes}`).join(', ')}`);
  assert.ok(files.some((file) => file.name.endsWith('.js')) && files.some((file) => file.name.endsWith('.css')));
  assert.ok(total <= BUDGET_BYTES, `${total} bytes`);
  const elsewhere = requests.filter((url) => !url.startsWith(`${proxy.url}/`) && !url.startsWith('data:') && !url.startsWith('blob:'));
  assert.deepEqual(elsewhere, []);
});

browserTest('page load: content types, compression and cache headers', async () => {
  const page = await fetch(`${QUERY_URL}/`, { headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(page.headers.get('cache-control'), 'no-cache');
  assert.match(page.headers.get('content-security-policy'), /default-src 'self'/);
  const html = await page.text();
  const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)[1];
  const style = /href="(\/ui\/assets\/[^"]+\.css)"/.exec(html)[1];
  for (const [path, type] of [[script, 'text/javascript; charset=utf-8'], [style, 'text/css; charset=utf-8']]) {
    const answer = await fetch(`${QUERY_URL}${path}`);
    assert.equal(answer.status, 200, path);
    assert.equal(answer.headers.get('content-type'), type);
    assert.equal(answer.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(answer.headers.get('content-encoding'), 'gzip');
  }
  const again = await fetch(`${QUERY_URL}/`, { headers: { 'If-None-Match': page.headers.get('etag') } });
  assert.equal(again.status, 304);
  assert.equal((await fetch(`${QUERY_URL}/ui/assets/nothing.js`)).status, 404);
});
