import { getJson, type LogEvent, type SearchPage } from '../api';
import { formatOffset } from '../time';
import { useFetch } from '../useFetch';
import { LogRow } from './LogRow';

// A trace longer than this many events shows its first ones and says so.
const MAX_EVENTS = 5000;

// Every event of the trace, oldest first, following the cursors.
async function traceEvents(traceId: string, signal: AbortSignal): Promise<{ events: LogEvent[]; more: boolean }> {
  const events: LogEvent[] = [];
  let cursor: string | undefined;
  do {
    const params = new URLSearchParams(cursor ? { trace_id: traceId, cursor, limit: '1000' } : { trace_id: traceId, order: 'asc', limit: '1000' });
    const page = await getJson<SearchPage>('/logs', params, signal);
    events.push(...page.logs);
    cursor = page.next_cursor;
  } while (cursor && events.length < MAX_EVENTS);
  return { events, more: Boolean(cursor) };
}

interface Props {
  traceId: string;
  pattern: RegExp | null;
  onOpen: (event: LogEvent) => void;
  onClose: () => void;
}

// One trace across services, in order, each event with its time from the trace's first
// event and from the one before it.
export function TraceView({ traceId, pattern, onOpen, onClose }: Props) {
  const trace = useFetch(traceId, (signal) => traceEvents(traceId, signal));
  const events = trace.data?.events ?? [];
  const start = events.length ? Date.parse(events[0].timestamp) : 0;
  const span = events.length ? Date.parse(events[events.length - 1].timestamp) - start : 0;
  const services = new Set(events.map((e) => e.service));
  return (
    <aside class="panel" aria-label="Trace">
      <header>
        <h2>
          Trace <code>{traceId}</code>
        </h2>
        <span class="grow" />
        <button class="close" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      {trace.error && <div class="error" role="alert">{trace.error}</div>}
      {trace.loading && !trace.data && <div class="empty">Loading the trace…</div>}
      {trace.data && (
        <div class="panel-body trace">
          <p class="trace-summary">
            {events.length} events across {services.size} {services.size === 1 ? 'service' : 'services'} over {formatOffset(span).slice(1)}
            {trace.data.more && `; the first ${MAX_EVENTS} shown`}
          </p>
          <table class="trace-table">
            <thead>
              <tr>
                <th>from start</th>
                <th>from previous</th>
                <th>event</th>
              </tr>
            </thead>
            <tbody>
              {events.map((event, i) => {
                const at = Date.parse(event.timestamp);
                const previous = i ? Date.parse(events[i - 1].timestamp) : at;
                return (
                  <tr key={event.id} data-id={event.id}>
                    <td class="offset">{formatOffset(at - start)}</td>
                    <td class="offset">{i ? formatOffset(at - previous) : ''}</td>
                    <td class="trace-event">
                      <div class="waterfall" style={{ marginLeft: `${span ? ((at - start) / span) * 30 : 0}%` }} />
                      <LogRow event={event} pattern={pattern} wrap={false} selected={false} onOpen={onOpen} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </aside>
  );
}
