// 5. An event expanded: every field, metadata as a table, a value added as a filter or an
// exclusion, copied as JSON, and a link that opens the same event.

import assert from 'node:assert/strict';
import { countShop, SHOP } from './fixture.mjs';
import { browserTest, runQuery, searchOf, waitForCount } from './harness.mjs';

async function openFirstAuthError(page) {
  await runQuery(page, 'service:auth level:error');
  await waitForCount(page, countShop((e) => e.service === 'auth' && e.level === 'ERROR'));
  await page.locator('.results .vrow').first().click();
  const panel = page.getByRole('complementary', { name: 'Event' });
  await panel.locator('tr[data-field="service"]', { hasText: 'auth' }).waitFor();
  return panel;
}

browserTest('event: fields and metadata, filter for and exclude a value', async ({ open }) => {
  const page = await open(searchOf('', SHOP));
  const panel = await openFirstAuthError(page);
  // The newest of the three failures: 10:25, user 42.
  await panel.locator('tr[data-field="timestamp"]', { hasText: '2026-05-05 10:25:00.500' }).waitFor();
  await panel.locator('tr[data-field="level"]', { hasText: 'ERROR' }).waitFor();
  await panel.locator('tr[data-field="id"]').waitFor();
  assert.equal(await panel.locator('.full-message').textContent(), 'DB connection failed: timeout after 5s');
  const metadata = await panel.locator('table.metadata tbody tr').evaluateAll((rows) =>
    rows.map((row) => [row.querySelector('.key').textContent, row.querySelector('.value').textContent]),
  );
  assert.deepEqual(metadata, [['host', 'db-primary'], ['user_id', '42']]);

  await panel.locator('tr[data-key="user_id"]').getByRole('button', { name: 'Filter for this value' }).click();
  await page.waitForURL((url) => url.searchParams.get('q') === 'service:auth level:ERROR user_id=42');
  await waitForCount(page, 2);
  await panel.locator('tr[data-key="user_id"]').getByRole('button', { name: 'Exclude this value' }).click();
  await page.waitForURL((url) => url.searchParams.get('q') === 'service:auth level:ERROR -user_id=42');
  await waitForCount(page, 1);
  await panel.locator('tr[data-field="level"]').getByRole('button', { name: 'Exclude this value' }).click();
  await page.waitForURL((url) => url.searchParams.get('q') === 'service:auth -user_id=42 -level:ERROR');
  await waitForCount(page, countShop((e) => e.service === 'auth' && e.metadata.user_id !== '42' && e.level !== 'ERROR'));
});

browserTest('event: copy as JSON, and its link opens it again', async ({ open, context }) => {
  const page = await open(searchOf('', SHOP));
  const panel = await openFirstAuthError(page);
  await panel.getByRole('button', { name: 'Copy JSON' }).click();
  await panel.getByRole('button', { name: 'Copied' }).waitFor();
  const copied = JSON.parse(await page.evaluate(() => navigator.clipboard.readText()));
  assert.equal(copied.service, 'auth');
  assert.equal(copied.message, 'DB connection failed: timeout after 5s');
  assert.deepEqual(copied.metadata, { host: 'db-primary', user_id: '42' });
  const link = await panel.getByRole('link', { name: 'Link' }).getAttribute('href');
  const url = new URL(link);
  assert.equal(url.searchParams.get('event'), copied.id);
  assert.equal(url.searchParams.get('at'), copied.timestamp);

  // Someone else opens the link, searching for something else meanwhile: the event is
  // fetched by its id, not found among the rows.
  const other = await context.newPage();
  url.searchParams.set('q', 'service:nothing-like-it');
  await other.goto(url.href);
  await waitForCount(other, 0);
  const opened = other.getByRole('complementary', { name: 'Event' });
  await opened.locator('tr[data-field="id"]', { hasText: copied.id }).waitFor();
  assert.equal(await opened.locator('.full-message').textContent(), copied.message);
  await other.close();
});
