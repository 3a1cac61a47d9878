// 3. Histogram: the range's counts over time, stacked by level in the levels' colours; drag
// to zoom into a span, click a bar to narrow to its bucket.

import assert from 'node:assert/strict';
import { countShop, shop, SHOP } from './fixture.mjs';
import { browserTest, searchOf, waitForCount } from './harness.mjs';

const within = (from, to) => (e) => Date.parse(e.timestamp) >= Date.parse(from) && Date.parse(e.timestamp) <= Date.parse(to);

/// The colours drawn on the chart's canvas that are level colours, by level.
async function levelsDrawn(page) {
  return page.evaluate(() => {
    const style = getComputedStyle(document.documentElement);
    const hex = (name) => style.getPropertyValue(`--level-${name}`).trim();
    const wanted = Object.fromEntries(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((l) => [hex(l), l.toUpperCase()]));
    const canvas = document.querySelector('.histogram canvas');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set();
    for (let i = 0; i < pixels.length; i += 4) {
      const colour = `#${[pixels[i], pixels[i + 1], pixels[i + 2]].map((c) => c.toString(16).padStart(2, '0')).join('')}`;
      if (pixels[i + 3] === 255 && wanted[colour]) seen.add(wanted[colour]);
    }
    return [...seen].sort();
  });
}

browserTest('histogram: bars stacked by level, with each level counted', async ({ open }) => {
  const page = await open(searchOf('', SHOP));
  await waitForCount(page, shop.length);
  await page.locator('.histogram .chart[data-buckets="60"]').waitFor();
  const levels = [...new Set(shop.map((e) => e.level))].sort();
  for (const level of levels) {
    const total = countShop((e) => e.level === level);
    await page.locator(`.legend-item[data-level="${level}"]`, { hasText: `${level} ${total}` }).waitFor();
  }
  assert.deepEqual(await levelsDrawn(page), levels);
});

browserTest('histogram: hovering a bar tells its count, clicking it narrows to it', async ({ open }) => {
  const page = await open(searchOf('', SHOP));
  await waitForCount(page, shop.length);
  const over = page.locator('.histogram .u-over');
  await page.locator('.histogram .chart[data-buckets="60"]').waitFor();
  const box = await over.boundingBox();
  // The bar of 10:40, the minute of billing's steps.
  const x = box.x + (40.5 / 60) * box.width;
  const expected = countShop(within('2026-05-05T10:40:00.000Z', '2026-05-05T10:40:59.999Z'));
  await page.mouse.move(x, box.y + box.height - 5);
  await page.locator('.histogram-hover', { hasText: `2026-05-05 10:40:00.000 (+60 s): ${expected} events` }).waitFor();
  await page.mouse.down();
  await page.mouse.up();
  await waitForCount(page, expected);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('from'), '2026-05-05T10:40:00.000Z');
  assert.equal(url.searchParams.get('to'), '2026-05-05T10:40:59.999Z');
});

browserTest('histogram: dragging across it zooms into the span', async ({ open }) => {
  const page = await open(searchOf('', SHOP));
  await waitForCount(page, shop.length);
  await page.locator('.histogram .chart[data-buckets="60"]').waitFor();
  const box = await page.locator('.histogram .u-over').boundingBox();
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * 0.25, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.4, y, { steps: 5 });
  await page.mouse.move(box.x + box.width * 0.5, y, { steps: 5 });
  await page.mouse.up();
  await page.waitForURL((url) => url.searchParams.get('from') !== SHOP.from);
  const url = new URL(page.url());
  const [from, to] = [url.searchParams.get('from'), url.searchParams.get('to')];
  // A quarter to half of the hour, to the pixel.
  const pixel = 3_600_000 / box.width;
  assert.ok(Math.abs(Date.parse(from) - Date.parse('2026-05-05T10:15:00Z')) <= 2 * pixel, from);
  assert.ok(Math.abs(Date.parse(to) - Date.parse('2026-05-05T10:30:00Z')) <= 2 * pixel, to);
  await waitForCount(page, countShop(within(from, to)));
  // The histogram now spans the zoomed range, in 15 s buckets.
  await page.mouse.move(box.x + box.width / 2, y);
  await page.locator('.histogram-hover', { hasText: /^2026-05-05 10:2\d:\d\d\.000 \(\+15 s\)/ }).waitFor();
});
