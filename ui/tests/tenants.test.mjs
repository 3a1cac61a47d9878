// Tenants: a key of several tenants gets a picker. The URL carries the choice, so a reload or
// a link shows the same tenant; every call acts for it (the live tail's and the export's
// too), and no other tenant's events are shown.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SHOP, shop } from './fixture.mjs';
import { API_KEY, browserTest, ingest, rowMessages, searchOf, waitForCount, waitForStored } from './harness.mjs';

// The key's tenants, as the keys file of crates/traceflow-e2e/tests/explorer lists them; the
// fixture is seeded as the first.
const [FIRST, SECOND] = ['acme', 'beta'];
const ledger = [0, 1, 2].map((i) => ({
  service: 'ledger',
  level: 'INFO',
  message: `ledger entry ${i} of the second tenant`,
  timestamp: new Date(Date.parse(SHOP.from) + i * 60_000).toISOString(),
  metadata: {},
}));

browserTest(
  'tenants: a key of two picks the tenant the page shows',
  async ({ open }) => {
    assert.ok(API_KEY, 'run against a stack whose KEYS_FILE gives EXPLORER_API_KEY two tenants');
    await ingest(ledger, SECOND);
    await waitForStored('service=ledger', ledger.length, { tenant: SECOND });

    const page = await open(searchOf('', SHOP));
    const prompt = page.getByRole('dialog', { name: 'API key' });
    await prompt.getByLabel('API key', { exact: true }).fill(API_KEY);
    await prompt.getByRole('button', { name: 'Use this key' }).click();
    await waitForCount(page, shop.length);
    const picker = page.getByRole('combobox', { name: 'Tenant' });
    assert.equal(await picker.inputValue(), FIRST);
    assert.deepEqual(await picker.locator('option').allTextContents(), [FIRST, SECOND]);
    assert.equal(await page.locator('.results .vrow .message', { hasText: 'ledger entry' }).count(), 0);

    await picker.selectOption(SECOND);
    await waitForCount(page, ledger.length);
    assert.equal(new URL(page.url()).searchParams.get('tenant'), SECOND);
    assert.deepEqual(await rowMessages(page), ledger.map((e) => e.message).reverse());
    await page.locator('nav.facets[aria-busy="false"]').waitFor();
    assert.deepEqual(await page.locator('.facet[data-facet="service"] .facet-name').allTextContents(), ['ledger']);

    // A reload stays with the tenant; the export is its events only.
    await page.reload();
    await waitForCount(page, ledger.length);
    assert.equal(await picker.inputValue(), SECOND);
    const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'NDJSON' }).click()]);
    const exported = readFileSync(await file.path(), 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(exported.map((e) => [e.tenant, e.service]), ledger.map(() => [SECOND, 'ledger']));

    // The live tail follows this tenant's new events and not the other's.
    await page.goto(page.url().replace(/\?.*/, `?q=service:ticker&live=1&tenant=${SECOND}`));
    await page.locator('.live-status[data-status="live"]').waitFor();
    const ticker = (message) => ({ service: 'ticker', level: 'INFO', message, metadata: {} });
    await ingest([ticker('the first tenant ticks')], FIRST);
    await ingest([ticker('the second tenant ticks')], SECOND);
    await page.locator('.results .vrow .message', { hasText: 'the second tenant ticks' }).waitFor();
    await waitForStored('service=ticker', 1, { tenant: FIRST });
    assert.deepEqual(await rowMessages(page), ['the second tenant ticks']);

    // Back to the first tenant's search, as it was.
    await page.goBack();
    await page.goBack();
    await waitForCount(page, shop.length);
    assert.equal(await picker.inputValue(), FIRST);
  },
    // The page's first calls, before it has the key.
    { allow: [/401/] },
  );
