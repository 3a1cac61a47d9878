// The events the browser tests search, ingested once per run through `POST /ingest`
// (run.mjs), and what the tests expect of them: each test computes its expected rows and
// counts from these lists, so the data is written once.

// The shop's hour: 2026-05-05 10:00 to 11:00 UTC (the test stack keeps every age of event).
export const SHOP = { from: '2026-05-05T10:00:00.000Z', to: '2026-05-05T10:59:59.999Z' };
// The bulk events' span: 20,000 events over 500 seconds, four to a millisecond.
export const BULK = { from: '2026-05-06T00:00:00.000Z', to: '2026-05-06T00:09:59.999Z', count: 20_000 };
export const TRACE_ID = 'trace-checkout-7';
export const LONG_MESSAGE_BYTES = 256 * 1024;

const at = (base, ms) => new Date(Date.parse(base) + ms).toISOString();
const minute = 60_000;

function shopEvents() {
  const events = [];
  // Three failures of auth's database, among its logins.
  for (const [m, user] of [[5, '42'], [15, '7'], [25, '42']]) {
    events.push({ service: 'auth', level: 'ERROR', message: 'DB connection failed: timeout after 5s', timestamp: at(SHOP.from, m * minute + 500), metadata: { user_id: user, host: 'db-primary' } });
  }
  for (let i = 0; i < 20; i++) {
    events.push({ service: 'auth', level: 'INFO', message: `login ok for user ${i % 5}`, timestamp: at(SHOP.from, i * 3 * minute + 1000), metadata: { user_id: String(i % 5), host: i % 2 ? 'auth-1' : 'auth-2' } });
  }
  for (let i = 0; i < 8; i++) {
    events.push({ service: 'payment', level: i % 4 === 0 ? 'ERROR' : 'WARN', message: `card declined: insufficient funds (attempt ${i})`, timestamp: at(SHOP.from, i * 7 * minute + 2000), metadata: { region: i % 2 ? 'eu west' : 'us-east', amount: String(10 + i) } });
  }
  for (let i = 0; i < 30; i++) {
    events.push({ service: 'health', level: 'DEBUG', message: 'health check ok', timestamp: at(SHOP.from, i * 2 * minute + 3000), metadata: {} });
  }
  // One checkout, across three services: its time offsets are what the trace view shows.
  const checkout = [
    [0, 'gateway', 'INFO', 'checkout started'],
    [12, 'auth', 'INFO', 'token verified for checkout'],
    [250, 'payment', 'WARN', 'card declined, retrying'],
    [1500, 'payment', 'INFO', 'card accepted'],
    [2100, 'gateway', 'INFO', 'checkout finished'],
  ];
  for (const [ms, service, level, message] of checkout) {
    events.push({ service, level, message, timestamp: at(SHOP.from, 30 * minute + ms), trace_id: TRACE_ID, metadata: { order_id: '1234' } });
  }
  // Billing's steps, a second apart: the context of step 20 is 00-19 and 21-40.
  for (let i = 0; i <= 40; i++) {
    events.push({ service: 'billing', level: 'INFO', message: `billing step ${String(i).padStart(2, '0')}`, timestamp: at(SHOP.from, 40 * minute + i * 1000), metadata: {} });
  }
  // A 256 KiB message, the search word at its start and its very end.
  const filler = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(LONG_MESSAGE_BYTES / 27));
  const long = `needle at the start ${filler}`.slice(0, LONG_MESSAGE_BYTES - ' needle'.length) + ' needle';
  events.push({ service: 'blob', level: 'INFO', message: long, timestamp: at(SHOP.from, 50 * minute), metadata: { size: String(long.length) } });
  return events;
}

export const shop = shopEvents();

export function bulkMessage(i) {
  return `bulk event ${String(i).padStart(5, '0')}`;
}

/// Event i of the bulk: later events have higher numbers; four share each millisecond, so
/// the pages' cursors must break ties by event id.
export function bulkEvent(i) {
  return { service: 'bulk', level: i % 10 === 0 ? 'WARN' : 'INFO', message: bulkMessage(i), timestamp: at(BULK.from, Math.floor(i / 4) * 100), metadata: { shard: String(i % 4) } };
}

/// Events of `service` 1, 2, 3, 4 and 10 minutes before `now`, for the relative ranges
/// (ingested by their test, so that they are that recent when it looks).
export function recentEvents(service, now) {
  return [1, 2, 3, 4, 10].map((m) => ({ service, level: 'INFO', message: `recent heartbeat ${m} min ago`, timestamp: new Date(now - m * minute).toISOString(), metadata: {} }));
}

/// The shop events a test's predicate selects, and their number.
export function countShop(predicate) {
  return shop.filter(predicate).length;
}
