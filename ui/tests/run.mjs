// Seeds a Traceflow stack with the fixture's events and runs the browser tests against it:
//
//   QUERY_URL=http://127.0.0.1:8081 INGESTION_URL=http://127.0.0.1:8080 node tests/run.mjs [--only NAMES | --skip NAMES]
//
// NAMES are test files' names without `.test.mjs`, separated by commas (`api-key,tenants`). The Rust test
// crates/traceflow-e2e/tests/explorer starts the stack and runs this; EXPLORER_API_KEY is the
// key when the stack has QUERY_API_KEYS.

import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { BULK, bulkEvent, shop } from './fixture.mjs';
import { ingest, waitForStored } from './harness.mjs';

// Ingestion takes at most 1 MiB per request: batches stay under it.
const BATCH_BYTES = 900 * 1024;

async function ingestAll(events) {
  let batch = [];
  let bytes = 0;
  for (const event of events) {
    const size = JSON.stringify(event).length + 1;
    if (batch.length && bytes + size > BATCH_BYTES) {
      await ingest(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(event);
    bytes += size;
  }
  if (batch.length) await ingest(batch);
}

async function seed() {
  const started = Date.now();
  await ingestAll(shop);
  await ingestAll(Array.from({ length: BULK.count }, (_, i) => bulkEvent(i)));
  await waitForStored('service=bulk', BULK.count);
  await waitForStored(`from=2026-05-05T00:00:00Z&to=2026-05-05T23:59:59Z`, shop.length);
  console.log(`# seeded ${shop.length + BULK.count} events in ${Date.now() - started} ms`);
}

function selected(args) {
  const names = readdirSync(new URL('.', import.meta.url))
    .filter((file) => file.endsWith('.test.mjs'))
    .sort();
  const [mode, list = ''] = args;
  const files = list.split(',').map((name) => `${name}.test.mjs`);
  if (mode === '--only') return names.filter((n) => files.includes(n));
  if (mode === '--skip') return names.filter((n) => !files.includes(n));
  return names;
}

await seed();
const files = selected(process.argv.slice(2)).map((file) => `tests/${file}`);
if (files.length === 0) throw new Error(`no test file matches ${process.argv.slice(2).join(' ')}`);
// One file at a time: each starts its own Chromium, and the machine is small.
const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  cwd: new URL('..', import.meta.url).pathname,
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
