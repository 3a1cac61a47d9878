// 2. Time range: the last hour by default, the relative ranges, and an absolute one.

import assert from 'node:assert/strict';
import { countShop, recentEvents, SHOP } from './fixture.mjs';
import { browserTest, ingest, rowMessages, waitForCount, waitForStored } from './harness.mjs';

browserTest('time range: the last hour by default, then 5m and 30d', async ({ open }) => {
  // A service of this run's own: the stack may hold an earlier run's.
  const service = `recent-${Date.now()}`;
  const recent = recentEvents(service, Date.now());
  await ingest(recent);
  await waitForStored(`service=${service}`, recent.length);
  const page = await open(`?q=service:${service}`);
  await waitForCount(page, recent.length);
  assert.equal(await page.getByRole('button', { name: '1h', exact: true }).getAttribute('aria-pressed'), 'true');
  await page.getByRole('button', { name: '5m', exact: true }).click();
  // The events 1, 2, 3 and 4 minutes old; not the one of 10.
  await waitForCount(page, 4);
  assert.ok((await rowMessages(page)).every((m) => !m.includes('10 min ago')));
  assert.equal(new URL(page.url()).searchParams.get('last'), '5m');
  await page.getByRole('button', { name: '30d', exact: true }).click();
  await waitForCount(page, recent.length);
});

browserTest('time range: an absolute range typed in', async ({ open }) => {
  const page = await open('?q=service:auth');
  await page.getByLabel('From', { exact: true }).fill('2026-05-05T10:00:00');
  await page.getByLabel('To', { exact: true }).fill('2026-05-05T10:19:59');
  await page.getByRole('button', { name: 'Apply' }).click();
  const end = Date.parse('2026-05-05T10:19:59.999Z');
  await waitForCount(page, countShop((e) => e.service === 'auth' && Date.parse(e.timestamp) <= end));
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('from'), SHOP.from);
  assert.equal(url.searchParams.get('to'), '2026-05-05T10:19:59.999Z');
});
