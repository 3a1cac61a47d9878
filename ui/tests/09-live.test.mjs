// 9. Live tail: new matching events appear as they are stored; pause holds them, resume
// shows them; a cut connection is taken up again by itself, losing and repeating nothing.

import assert from 'node:assert/strict';
import { browserTest, ingest, rowMessages, waitForStored } from './harness.mjs';

const live = (message) => ({ service: 'live', level: 'INFO', message, metadata: {} });

async function waitForStatus(page, status) {
  await page.locator(`.live-status[data-status="${status}"]`).waitFor();
}

browserTest(
  'live tail: follows, pauses, resumes and reconnects',
  async ({ open, proxy }) => {
    const page = await open('?q=service:live');
    await page.getByLabel('Live tail', { exact: true }).check();
    await page.waitForURL((url) => url.searchParams.get('live') === '1');
    await waitForStatus(page, 'live');
    // Something else, not matching, is not shown.
    await ingest([live('first live event'), { ...live('not this one'), service: 'other' }]);
    await page.locator('.results .vrow .message', { hasText: 'first live event' }).waitFor();

    await page.getByRole('button', { name: 'Pause' }).click();
    await ingest([live('while paused')]);
    await page.locator('.live-status', { hasText: '1 new while paused' }).waitFor();
    assert.deepEqual(await rowMessages(page), ['first live event']);
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator('.results .vrow .message', { hasText: 'while paused' }).waitFor();

    // The connection is cut and refused for a while; what is stored meanwhile comes after.
    proxy.block();
    await waitForStatus(page, 'reconnecting');
    await ingest([live('during the outage')]);
    await waitForStored('service=live', 3);
    proxy.unblock();
    await waitForStatus(page, 'live');
    await page.locator('.results .vrow .message', { hasText: 'during the outage' }).waitFor();
    await ingest([live('after the outage')]);
    await page.locator('.results .vrow .message', { hasText: 'after the outage' }).waitFor();
    assert.deepEqual(await rowMessages(page), ['after the outage', 'during the outage', 'while paused', 'first live event']);
  },
  // The refused connections are logged by the browser.
  { allow: [/ERR_EMPTY_RESPONSE|ERR_CONNECTION|Failed to load resource|network/i] },
);
