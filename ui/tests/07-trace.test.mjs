// 7. Trace view: a trace id opens every event of the trace, across services, in order, with
// the time offsets between them.

import assert from 'node:assert/strict';
import { SHOP, TRACE_ID } from './fixture.mjs';
import { browserTest, runQuery, searchOf, waitForCount } from './harness.mjs';

browserTest('trace: every event of the checkout, across services, with offsets', async ({ open }) => {
  const page = await open(searchOf('', SHOP));
  await runQuery(page, '"checkout started"');
  await waitForCount(page, 1);
  await page.locator('.results .vrow').first().click();
  await page.getByRole('complementary', { name: 'Event' }).getByRole('button', { name: TRACE_ID }).click();
  await page.waitForURL((url) => url.searchParams.get('trace') === TRACE_ID);
  const trace = page.getByRole('complementary', { name: 'Trace' });
  await trace.getByText('5 events across 3 services over 2.100 s').waitFor();
  const rows = await trace.locator('.trace-table tbody tr').evaluateAll((rows) =>
    rows.map((row) => [...row.querySelectorAll('.offset')].map((cell) => cell.textContent).concat(
      row.querySelector('.service').textContent,
      row.querySelector('.message').textContent,
    )),
  );
  assert.deepEqual(rows, [
    ['+0 ms', '', 'gateway', 'checkout started'],
    ['+12 ms', '+12 ms', 'auth', 'token verified for checkout'],
    ['+250 ms', '+238 ms', 'payment', 'card declined, retrying'],
    ['+1.500 s', '+1.250 s', 'payment', 'card accepted'],
    ['+2.100 s', '+600 ms', 'gateway', 'checkout finished'],
  ]);
  // An event of the trace opens as any other.
  await trace.locator('.trace-table .logrow', { hasText: 'card accepted' }).click();
  await page.getByRole('complementary', { name: 'Event' }).locator('.full-message', { hasText: 'card accepted' }).waitFor();
});
