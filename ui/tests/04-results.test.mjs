// 4. Results: newest or oldest first, a virtualised list scrolled through every one of
// 20,000 events over the cursors (none skipped or repeated, the page responsive), the
// search terms highlighted, wrapped or not, a 256 KiB message shown without freezing.

import assert from 'node:assert/strict';
import { BULK, bulkMessage, countShop, LONG_MESSAGE_BYTES, SHOP } from './fixture.mjs';
import { browserTest, rowMessages, searchOf, waitForCount } from './harness.mjs';

/// Scrolls the list from top to bottom a screen at a time, as fast as it renders, and reads
/// every row it shows; the page loads the next pages as the end comes near.
function scrollThrough(page, total) {
  return page.evaluate(async (total) => {
    const list = document.querySelector('.results .vlist');
    const seen = new Map();
    let mostRows = 0;
    let longestTask = 0;
    new PerformanceObserver((entries) => {
      for (const entry of entries.getEntries()) longestTask = Math.max(longestTask, entry.duration);
    }).observe({ type: 'longtask', buffered: false });
    const frame = () => new Promise((next) => requestAnimationFrame(() => next()));
    const read = () => {
      const rows = list.querySelectorAll('.vrow');
      mostRows = Math.max(mostRows, rows.length);
      for (const row of rows) seen.set(Number(row.dataset.index), row.querySelector('.message').textContent);
    };
    const deadline = performance.now() + 120_000;
    while (performance.now() < deadline) {
      read();
      const atEnd = list.scrollTop + list.clientHeight >= list.scrollHeight - 1;
      if (atEnd && seen.size >= total) break;
      if (atEnd) {
        await new Promise((next) => setTimeout(next, 20));
        continue;
      }
      list.scrollTop += list.clientHeight;
      await frame();
      await frame();
    }
    read();
    const indexes = [...seen.keys()].sort((a, b) => a - b);
    return { messages: indexes.map((i) => seen.get(i)), lastIndex: indexes.at(-1), mostRows, longestTask };
  }, total);
}

browserTest('results: every one of 20,000 events once, newest first, over the cursors', async ({ open }) => {
  const page = await open(searchOf('service:bulk', BULK));
  await waitForCount(page, BULK.count);
  const { messages, lastIndex, mostRows, longestTask } = await scrollThrough(page, BULK.count);
  assert.equal(messages.length, BULK.count);
  assert.equal(lastIndex, BULK.count - 1);
  assert.equal(new Set(messages).size, BULK.count, 'an event shown twice');
  const expected = new Set(Array.from({ length: BULK.count }, (_, i) => bulkMessage(i)));
  assert.deepEqual(new Set(messages), expected);
  // Newest first: four events share each millisecond, so the groups of four go down.
  const groups = messages.map((m) => Math.floor(Number(m.slice(-5)) / 4));
  assert.ok(groups.every((g, i) => i === 0 || g <= groups[i - 1]), 'out of order');
  await page.locator('.status .loaded', { hasText: '20,000 loaded' }).waitFor();
  console.log(`# scrolled through ${messages.length} rows: at most ${mostRows} in the page at once, longest task ${longestTask} ms`);
  assert.ok(mostRows < 200, `${mostRows} rows in the page at once: not virtualised`);
  assert.ok(longestTask < 500, `the page was busy for ${longestTask} ms at once`);
});

browserTest('results: oldest first', async ({ open }) => {
  const page = await open(searchOf('service:bulk', BULK));
  await waitForCount(page, BULK.count);
  await page.getByLabel('Order', { exact: true }).selectOption('asc');
  await page.waitForURL((url) => url.searchParams.get('order') === 'asc');
  await page.locator('.vrow[data-index="0"] .message', { hasText: /bulk event 0000[0-3]/ }).waitFor();
  const first = (await rowMessages(page)).slice(0, 8).map((m) => Math.floor(Number(m.slice(-5)) / 4));
  assert.deepEqual(first, [0, 0, 0, 0, 1, 1, 1, 1]);
});

browserTest('results: the words and phrases searched are highlighted', async ({ open }) => {
  const page = await open(searchOf('service:auth CONNECTION "after 5s"', SHOP));
  await waitForCount(page, countShop((e) => e.service === 'auth' && e.message.includes('connection')));
  const marks = await page.locator('.results .vrow').evaluateAll((rows) =>
    rows.map((row) => [...row.querySelectorAll('mark')].map((mark) => mark.textContent)),
  );
  assert.equal(marks.length, 3);
  for (const row of marks) assert.deepEqual(row, ['connection', 'after 5s']);
});

browserTest('results: wrap or not, and a 256 KiB message without freezing', async ({ open }) => {
  const page = await open(searchOf('service:blob needle', SHOP));
  await waitForCount(page, 1);
  const row = page.locator('.results .vrow').first();
  assert.ok((await row.boundingBox()).height <= 30, 'one line when not wrapped');
  await row.locator('.more', { hasText: 'KiB more' }).waitFor();
  assert.deepEqual(await row.locator('mark').allTextContents(), ['needle']);
  await page.getByLabel('Wrap lines', { exact: true }).check();
  await page.waitForURL((url) => url.searchParams.get('wrap') === '1');
  await page.waitForFunction(() => document.querySelector('.results .vrow').offsetHeight > 200);
  // The whole message opens in the panel, both marks in it, and the page keeps answering.
  const started = Date.now();
  await row.click();
  const message = page.locator('.panel .full-message');
  await message.waitFor();
  assert.equal((await message.textContent()).length, LONG_MESSAGE_BYTES);
  assert.deepEqual(await message.locator('mark').allTextContents(), ['needle', 'needle']);
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(done)));
  const took = Date.now() - started;
  assert.ok(took < 3000, `opening the 256 KiB message took ${took} ms`);
  await message.evaluate((pre) => (pre.scrollTop = pre.scrollHeight));
  await page.getByLabel('Wrap lines', { exact: true }).uncheck();
  await page.waitForFunction(() => document.querySelector('.results .vrow').offsetHeight <= 30);
});
