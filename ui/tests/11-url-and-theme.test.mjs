// 11. The whole state is in the URL (reload or share it and see the same thing); light and
// dark themes, the system's by default.

import assert from 'node:assert/strict';
import { countShop, SHOP } from './fixture.mjs';
import { browserTest, runQuery, searchOf, waitForCount } from './harness.mjs';

/// What the page shows of its state.
async function visibleState(page) {
  return {
    query: await page.getByRole('searchbox', { name: 'Query' }).inputValue(),
    from: await page.getByLabel('From', { exact: true }).inputValue(),
    to: await page.getByLabel('To', { exact: true }).inputValue(),
    order: await page.getByLabel('Order', { exact: true }).inputValue(),
    wrap: await page.getByLabel('Wrap lines', { exact: true }).isChecked(),
    firstRow: await page.locator('.results .vrow .message').first().textContent(),
    panel: await page.locator('.panel .full-message').textContent(),
    tab: await page.getByRole('tab', { selected: true }).textContent(),
  };
}

browserTest('url: query, range, order, wrap and the open event survive a reload and a shared link', async ({ open, context }) => {
  const page = await open(searchOf('', SHOP));
  await runQuery(page, 'service:payment declined');
  const expected = countShop((e) => e.service === 'payment' && e.message.includes('declined'));
  await waitForCount(page, expected);
  await page.getByLabel('Order', { exact: true }).selectOption('asc');
  await page.getByLabel('Wrap lines', { exact: true }).check();
  await page.locator('.results .vrow').nth(1).click();
  await page.locator('.panel .full-message').waitFor();
  const before = await visibleState(page);
  const url = page.url();
  assert.deepEqual(Object.fromEntries(new URL(url).searchParams), {
    q: 'service:payment declined',
    from: SHOP.from,
    to: SHOP.to,
    order: 'asc',
    wrap: '1',
    event: new URL(url).searchParams.get('event'),
    at: '2026-05-05T10:07:02.000Z',
  });

  await page.reload();
  await waitForCount(page, expected);
  await page.locator('.panel .full-message').waitFor();
  assert.deepEqual(await visibleState(page), before);
  assert.equal(page.url(), url);

  const shared = await context.newPage();
  await shared.goto(url);
  await waitForCount(shared, expected);
  await shared.locator('.panel .full-message').waitFor();
  assert.deepEqual(await visibleState(shared), before);
  await shared.close();

  // Back undoes the last change: the panel closes.
  await page.goBack();
  await page.locator('.panel').waitFor({ state: 'detached' });
  assert.equal(new URL(page.url()).searchParams.get('event'), null);
});

/// Waits until the page's background is `colour` (the theme applies on the next render).
const background = (page, colour) =>
  page.waitForFunction((colour) => getComputedStyle(document.body).backgroundColor === colour, colour);
const DARK = 'rgb(13, 17, 23)';
const LIGHT = 'rgb(255, 255, 255)';

browserTest(
  'theme: dark when the system is dark',
  async ({ open }) => {
    const page = await open(searchOf('', SHOP));
    await page.locator('.status .count').waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    await background(page, DARK);
    await page.getByLabel('Theme', { exact: true }).selectOption('light');
    await background(page, LIGHT);
    // The choice is kept.
    await page.reload();
    await page.locator('.status .count').waitFor();
    await background(page, LIGHT);
  },
  { colorScheme: 'dark' },
);

browserTest('theme: light when the system is light, and it follows a change', async ({ open, page: p }) => {
  const page = await open(searchOf('', SHOP));
  await page.locator('.status .count').waitFor();
  await background(page, LIGHT);
  await p.emulateMedia({ colorScheme: 'dark' });
  await background(page, DARK);
});
