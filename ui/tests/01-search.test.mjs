// 1. Search: the query bar's syntax maps onto the API's filters and exclusions; Enter runs
// it, `/` focuses it, the help documents it, recent queries come back.

import assert from 'node:assert/strict';
import { countShop, SHOP } from './fixture.mjs';
import { browserTest, rowMessages, runQuery, searchOf, shownCount, waitForCount } from './harness.mjs';

browserTest('search: fields, metadata, words and a phrase', async ({ open }) => {
  const page = await open(searchOf('', SHOP));
  await runQuery(page, 'service:auth level:error user_id=42 "connection failed"');
  const expected = countShop((e) => e.service === 'auth' && e.level === 'ERROR' && e.metadata.user_id === '42');
  await waitForCount(page, expected);
  assert.equal(expected, 2);
  assert.deepEqual(await rowMessages(page), Array(2).fill('DB connection failed: timeout after 5s'));
  assert.equal(new URL(page.url()).searchParams.get('q'), 'service:auth level:error user_id=42 "connection failed"');
});

browserTest('search: exclusions of a field, a metadata entry and a phrase', async ({ open }) => {
  const page = await open(searchOf('', SHOP));
  await runQuery(page, '-service:health -"login ok" -region="eu west"');
  await waitForCount(
    page,
    countShop((e) => e.service !== 'health' && !e.message.includes('login ok') && e.metadata.region !== 'eu west'),
  );
  const messages = await rowMessages(page);
  assert.ok(messages.length > 0);
  assert.ok(messages.every((m) => !m.includes('health check') && !m.includes('login ok')), messages.join('\n'));
});

browserTest('search: a query the API cannot take says why instead of searching', async ({ open }) => {
  const page = await open(searchOf('', SHOP));
  await runQuery(page, 'service:auth service:payment');
  await page.getByRole('alert').filter({ hasText: 'service is given twice' }).waitFor();
  await runQuery(page, 'level:loud');
  await page.getByRole('alert').filter({ hasText: 'level must be one of' }).waitFor();
});

browserTest('search: / focuses the bar, the help documents the syntax', async ({ open }) => {
  const page = await open(searchOf('', SHOP));
  await shownCount(page);
  await page.locator('.results').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Query');
  await page.getByRole('button', { name: 'Query syntax' }).click();
  const help = page.getByRole('dialog', { name: 'Query syntax' });
  for (const example of ['service:auth', 'level:error', 'user_id=42', '"connection failed"', '-service:health', 'trace_id:']) {
    await help.locator('code', { hasText: example }).first().waitFor();
  }
  await page.keyboard.press('Escape');
  await help.waitFor({ state: 'detached' });
});

browserTest('search: recent queries are offered again, after a reload too', async ({ open }) => {
  const page = await open(searchOf('', SHOP));
  await runQuery(page, 'service:payment');
  await waitForCount(page, countShop((e) => e.service === 'payment'));
  await runQuery(page, 'service:billing');
  await waitForCount(page, countShop((e) => e.service === 'billing'));
  await page.reload();
  const bar = page.getByRole('searchbox', { name: 'Query' });
  await bar.fill('');
  await bar.focus();
  const recent = page.getByRole('listbox', { name: 'Recent queries' });
  assert.deepEqual(await recent.getByRole('option').allTextContents(), ['service:billing', 'service:payment']);
  await bar.press('ArrowDown');
  await bar.press('ArrowDown');
  await bar.press('Enter');
  await waitForCount(page, countShop((e) => e.service === 'payment'));
  assert.equal(await bar.inputValue(), 'service:payment');
});
