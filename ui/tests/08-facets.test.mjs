// 8. Facets: the top values of service, level and the commonest metadata keys of the
// matching events, with counts; a click filters for a value, − excludes it.

import assert from 'node:assert/strict';
import { countShop, shop, SHOP } from './fixture.mjs';
import { browserTest, runQuery, searchOf, waitForCount } from './harness.mjs';

/// `[value, count]` of each value a facet group lists.
function facet(page, name) {
  return page.locator(`.facet[data-facet="${name}"] li`).evaluateAll((items) =>
    items.map((item) => [item.dataset.value, Number(item.querySelector('.count').textContent.replace(/,/g, ''))]),
  );
}

/// The fixture's `[value, count]` of `valueOf` among `events`, most frequent first.
function expectedFacet(events, valueOf) {
  const counts = new Map();
  for (const event of events) {
    const value = valueOf(event);
    if (value !== undefined) counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

browserTest('facets: services, levels and metadata of the search, with counts', async ({ open }) => {
  const page = await open(searchOf('', SHOP));
  await waitForCount(page, shop.length);
  await page.locator('.facet[data-facet="service"]').waitFor();
  const services = await facet(page, 'service');
  assert.deepEqual(new Map(services), new Map(expectedFacet(shop, (e) => e.service)));
  assert.deepEqual(new Map(await facet(page, 'level')), new Map(expectedFacet(shop, (e) => e.level)));
  assert.deepEqual(new Map(await facet(page, 'user_id')), new Map(expectedFacet(shop, (e) => e.metadata.user_id)));
  // Most frequent first.
  const counts = services.map(([, count]) => count);
  assert.deepEqual(counts, [...counts].sort((a, b) => b - a));

  // They follow the search.
  await runQuery(page, 'service:payment');
  await waitForCount(page, countShop((e) => e.service === 'payment'));
  // The facets of the previous search stay until the new ones come.
  await page.locator('nav.facets[aria-busy="false"]').waitFor();
  await page.locator('.facet[data-facet="region"] li[data-value="eu west"]').waitFor();
  assert.deepEqual(await facet(page, 'service'), [['payment', countShop((e) => e.service === 'payment')]]);
});

browserTest('facets: a click filters for a value, − excludes one', async ({ open }) => {
  const page = await open(searchOf('', SHOP));
  await waitForCount(page, shop.length);
  await page.locator('.facet[data-facet="service"] li[data-value="auth"] .facet-value').click();
  await page.waitForURL((url) => url.searchParams.get('q') === 'service:auth');
  await waitForCount(page, countShop((e) => e.service === 'auth'));
  await page.locator('.facet[data-facet="level"] li[data-value="INFO"] .facet-exclude').click();
  await page.waitForURL((url) => url.searchParams.get('q') === 'service:auth -level:INFO');
  await waitForCount(page, countShop((e) => e.service === 'auth' && e.level !== 'INFO'));
  await page.locator('.facet[data-facet="host"] li[data-value="db-primary"] .facet-value').click();
  await page.waitForURL((url) => url.searchParams.get('q') === 'service:auth -level:INFO host=db-primary');
  await waitForCount(page, countShop((e) => e.service === 'auth' && e.level !== 'INFO' && e.metadata.host === 'db-primary'));
});
