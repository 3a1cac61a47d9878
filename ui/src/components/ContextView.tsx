import { useState } from 'preact/hooks';
import { getJson, type ContextAnswer, type LogEvent } from '../api';
import { useFetch } from '../useFetch';
import { LogRow } from './LogRow';

// Events shown on each side at first, and after "more".
const SIDES = [20, 100];

// The events just before and after `event` from the same service, oldest first, whatever
// the search: what happened around it.
export function ContextView({ event, pattern, onOpen }: { event: LogEvent; pattern: RegExp | null; onOpen: (e: LogEvent) => void }) {
  const [side, setSide] = useState(SIDES[0]);
  const params = new URLSearchParams({ id: event.id, timestamp: event.timestamp, before: String(side), after: String(side) });
  const context = useFetch(String(params), (signal) => getJson<ContextAnswer>('/logs/context', params, signal));
  if (context.error) return <div class="error" role="alert">{context.error}</div>;
  if (!context.data) return <div class="empty">Loading the context…</div>;
  const { before, after } = context.data;
  const row = (e: LogEvent) => (
    <div key={e.id} class="context-row" data-id={e.id}>
      <LogRow event={e} pattern={pattern} wrap={false} selected={e.id === event.id} onOpen={onOpen} />
    </div>
  );
  const more = side < SIDES[1] && (before.length === side || after.length === side);
  return (
    <div class="panel-body context" aria-label="Context">
      <p class="muted">
        {before.length} before and {after.length} after, from {event.service}
      </p>
      {before.map(row)}
      {row(context.data.event)}
      {after.map(row)}
      {more && <button onClick={() => setSide(SIDES[1])}>Show {SIDES[1]} on each side</button>}
    </div>
  );
}
