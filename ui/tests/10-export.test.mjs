// 10. Export: every event matching the search, not only those loaded, as NDJSON or CSV.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BULK, bulkMessage, countShop, SHOP } from './fixture.mjs';
import { browserTest, searchOf, waitForCount } from './harness.mjs';

/// Clicks the export button for `format`; the downloaded file's name and text.
async function download(page, format) {
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('group', { name: 'Export' }).getByRole('button', { name: format }).click()]);
  return { name: file.suggestedFilename(), text: readFileSync(await file.path(), 'utf8') };
}

/// RFC 4180 rows: quoted fields may hold commas, quotes (doubled) and line breaks.
function csvRows(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') field += text[++i];
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field), rows.push(row), (row = []), (field = '');
    } else field += c;
  }
  if (field || row.length) row.push(field), rows.push(row);
  return rows;
}

browserTest('export: all 20,000 matching events as NDJSON, though few are loaded', async ({ open }) => {
  const page = await open(searchOf('service:bulk', BULK));
  await waitForCount(page, BULK.count);
  const { name, text } = await download(page, 'NDJSON');
  assert.match(name, /\.ndjson$/);
  const events = text.trimEnd().split('\n').map((line) => JSON.parse(line));
  assert.equal(events.length, BULK.count);
  assert.equal(new Set(events.map((e) => e.id)).size, BULK.count);
  assert.deepEqual(new Set(events.map((e) => e.message)), new Set(Array.from({ length: BULK.count }, (_, i) => bulkMessage(i))));
  assert.ok(events.every((e) => e.service === 'bulk'));
  const loaded = Number((await page.locator('.status .loaded').textContent()).replace(/[^\d]/g, ''));
  assert.ok(loaded < BULK.count, `${loaded} loaded`);
});

browserTest('export: the search with its exclusions as CSV, in the order shown', async ({ open }) => {
  const page = await open(searchOf('service:payment -level:ERROR declined', SHOP, { order: 'asc' }));
  const expected = countShop((e) => e.service === 'payment' && e.level !== 'ERROR' && e.message.includes('declined'));
  await waitForCount(page, expected);
  const { name, text } = await download(page, 'CSV');
  assert.match(name, /\.csv$/);
  const [header, ...rows] = csvRows(text);
  for (const column of ['timestamp', 'service', 'level', 'message']) assert.ok(header.includes(column), header.join(','));
  assert.equal(rows.length, expected);
  const at = (row, column) => row[header.indexOf(column)];
  assert.ok(rows.every((row) => at(row, 'service') === 'payment' && at(row, 'level') === 'WARN'));
  const times = rows.map((row) => Date.parse(at(row, 'timestamp')));
  assert.deepEqual(times, [...times].sort((a, b) => a - b));
  assert.ok(rows.some((row) => at(row, 'message') === 'card declined, retrying'));
});
