// The explorer as the README shows it: taken on every run (target/explorer/explorer.png);
// `EXPLORER_SCREENSHOT=docs/explorer.png` writes the committed one too.

import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { countShop, SHOP } from './fixture.mjs';
import { ARTIFACTS, browserTest, searchOf, waitForCount } from './harness.mjs';

browserTest('screenshot: the explorer with a search, its facets and an event open', async ({ open }) => {
  const page = await open(searchOf('-service:health -"billing step" -"lorem ipsum"', SHOP));
  const hidden = ['billing step', 'lorem ipsum'];
  await waitForCount(page, countShop((e) => e.service !== 'health' && !hidden.some((text) => e.message.includes(text))));
  await page.locator('.facet[data-facet="service"]').waitFor();
  await page.locator('.results .vrow .message', { hasText: 'DB connection failed' }).first().click();
  await page.locator('.panel table.metadata').waitFor();
  await page.mouse.move(0, 0);
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, 'explorer.png');
  await page.screenshot({ path: file });
  // A path relative to the repository's root.
  const committed = process.env.EXPLORER_SCREENSHOT;
  if (committed) copyFileSync(file, resolve(new URL('../..', import.meta.url).pathname, committed));
});
