// API keys: with QUERY_API_KEYS set the page still opens, asks for a key, keeps it for the
// tab only (sessionStorage), and sends it with every call, the export's too.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { countShop, SHOP } from './fixture.mjs';
import { API_KEY, browserTest, searchOf, waitForCount } from './harness.mjs';

browserTest(
  'api key: asked for, refused when wrong, kept for the tab only',
  async ({ open, context }) => {
    assert.ok(API_KEY, 'run against a stack with QUERY_API_KEYS and EXPLORER_API_KEY');
    const page = await open(searchOf('service:auth', SHOP));
    const prompt = page.getByRole('dialog', { name: 'API key' });
    await prompt.getByText('needs an API key').waitFor();
    await prompt.getByLabel('API key', { exact: true }).fill('wrong-key');
    await prompt.getByRole('button', { name: 'Use this key' }).click();
    await prompt.getByText('refused the key').waitFor();
    await prompt.getByLabel('API key', { exact: true }).fill(API_KEY);
    await prompt.getByRole('button', { name: 'Use this key' }).click();
    await prompt.waitFor({ state: 'detached' });
    const expected = countShop((e) => e.service === 'auth');
    await waitForCount(page, expected);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('traceflow.apiKey')), API_KEY);
    assert.equal(await page.evaluate((key) => JSON.stringify(localStorage).includes(key), API_KEY), false);
    assert.ok(!page.url().includes(API_KEY));

    // A reload keeps it; the export sends it too.
    await page.reload();
    await waitForCount(page, expected);
    const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'NDJSON' }).click()]);
    const lines = readFileSync(await file.path(), 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, expected);

    // Another tab has no key until it is given one.
    const other = await context.newPage();
    await other.goto(page.url());
    await other.getByRole('dialog', { name: 'API key' }).waitFor();
    await other.close();
  },
  { allow: [/401/] },
);
