// 6. Context: the events just before and after one, from its service, oldest first.

import assert from 'node:assert/strict';
import { SHOP } from './fixture.mjs';
import { browserTest, runQuery, searchOf, waitForCount } from './harness.mjs';

const step = (i) => `billing step ${String(i).padStart(2, '0')}`;

browserTest('context: twenty events each side of billing step 20, whatever the search', async ({ open }) => {
  const page = await open(searchOf('', SHOP));
  await runQuery(page, '"billing step 20"');
  await waitForCount(page, 1);
  await page.locator('.results .vrow').first().click();
  const panel = page.getByRole('complementary', { name: 'Event' });
  await panel.getByRole('tab', { name: 'Context' }).click();
  await page.waitForURL((url) => url.searchParams.get('view') === 'context');
  const context = panel.getByLabel('Context', { exact: true });
  await context.locator('.context-row').nth(40).waitFor();
  const shown = await context.locator('.context-row .message').allTextContents();
  assert.deepEqual(shown, Array.from({ length: 41 }, (_, i) => step(i)));
  assert.equal(await context.locator('.logrow.selected .message').textContent(), step(20));
  await context.getByText('20 before and 20 after, from billing').waitFor();

  // The context is part of the page's address.
  await page.reload();
  await page.getByLabel('Context', { exact: true }).locator('.context-row').nth(40).waitFor();
  assert.equal(await page.locator('.context .logrow.selected .message').textContent(), step(20));
});
