// Logs the way a Node service does: pino, with the pino-loki transport in a worker thread
// (the setup pino-loki recommends), pushing to a Loki endpoint in batches.
//
//     node pino_loki.mjs HOST SERVICE
//
// HOST is the base URL (pino-loki appends /loki/api/v1/push). With LOKI_PASSWORD set, the
// pushes carry it as basic auth's password, as a shipper sends an API key. Exits once the
// transport has pushed its last batch; pino-loki reports a failed push on stderr.
import { once } from 'node:events';
import pino from 'pino';

const [host, service] = process.argv.slice(2);
if (!host || !service) {
  console.error('usage: node pino_loki.mjs HOST SERVICE');
  process.exit(2);
}

const transport = pino.transport({
  target: 'pino-loki',
  options: {
    host,
    labels: { service_name: service, env: 'test' },
    propsToLabels: ['component'],
    headers: { 'X-Scope-OrgID': 'acme' },
    ...(process.env.LOKI_PASSWORD && {
      basicAuth: { username: 'pino', password: process.env.LOKI_PASSWORD },
    }),
    // Every log in one or two pushes rather than one each.
    batching: { interval: 0.5 },
  },
});
const logger = pino({ level: 'trace', base: { pid: process.pid, hostname: 'web-1' } }, transport);

logger.info(
  {
    user: 'ada',
    order: { id: 1234, items: ['book', 'pen'] },
    meta: { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', request_id: 'r-1' },
  },
  'invoice sent',
);
logger.warn({ component: 'billing' }, 'low balance');
logger.error({ err: new Error('ledger unreachable') }, 'charge failed');
logger.fatal('out of money');
logger.debug('cache miss');
logger.trace('entering ledger');

// The worker thread does not keep the process alive by itself: wait for it to push its last
// batch and close.
const alive = setInterval(() => {}, 1000);
transport.end();
await once(transport, 'close');
clearInterval(alive);
