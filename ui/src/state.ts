// The explorer's whole state, kept in the page's URL so that a reload or a shared link shows
// the same thing:
//
//   /?q=service:auth+level:error     the query bar
//    &last=15m  or  &from=…&to=…      the time range (default: the last hour)
//    &order=asc                       oldest first (default: newest first)
//    &wrap=1                          long lines wrapped
//    &live=1                          following new events
//    &event=<id>&at=<timestamp>       the expanded event (&view=context for its context)
//    &trace=<trace id>                the trace view
//    &tenant=beta                     the tenant, for a key with several (default: its first)
//
// Defaults are left out, so the plain page is `/`.

import { DEFAULT_RANGE, RELATIVE_RANGES, type RelativeRange, type TimeRange } from './time';

export type Order = 'desc' | 'asc';

export type Panel =
  | { kind: 'event'; id: string; at: string; view: 'fields' | 'context' }
  | { kind: 'trace'; traceId: string };

export interface ExplorerState {
  query: string;
  range: TimeRange;
  order: Order;
  wrap: boolean;
  live: boolean;
  panel: Panel | null;
  tenant: string | null;
}

export function fromSearch(search: string): ExplorerState {
  const url = new URLSearchParams(search);
  const from = url.get('from');
  const to = url.get('to');
  const last = url.get('last') as RelativeRange | null;
  const range: TimeRange =
    from && to && !Number.isNaN(Date.parse(from)) && !Number.isNaN(Date.parse(to))
      ? { kind: 'absolute', from, to }
      : { kind: 'relative', last: last && RELATIVE_RANGES.includes(last) ? last : DEFAULT_RANGE };
  const event = url.get('event');
  const at = url.get('at');
  const trace = url.get('trace');
  const panel: Panel | null = trace
    ? { kind: 'trace', traceId: trace }
    : event && at
      ? { kind: 'event', id: event, at, view: url.get('view') === 'context' ? 'context' : 'fields' }
      : null;
  return {
    query: url.get('q') ?? '',
    range,
    order: url.get('order') === 'asc' ? 'asc' : 'desc',
    wrap: url.get('wrap') === '1',
    live: url.get('live') === '1',
    panel,
    tenant: url.get('tenant') || null,
  };
}

export function toSearch(state: ExplorerState): string {
  const url = new URLSearchParams();
  if (state.query) url.set('q', state.query);
  if (state.range.kind === 'absolute') {
    url.set('from', state.range.from);
    url.set('to', state.range.to);
  } else if (state.range.last !== DEFAULT_RANGE) {
    url.set('last', state.range.last);
  }
  if (state.order === 'asc') url.set('order', 'asc');
  if (state.wrap) url.set('wrap', '1');
  if (state.live) url.set('live', '1');
  if (state.panel?.kind === 'event') {
    url.set('event', state.panel.id);
    url.set('at', state.panel.at);
    if (state.panel.view === 'context') url.set('view', 'context');
  } else if (state.panel?.kind === 'trace') {
    url.set('trace', state.panel.traceId);
  }
  if (state.tenant) url.set('tenant', state.tenant);
  const text = url.toString();
  return text ? `?${text}` : '';
}

// The link to one event: its search, range and the event expanded.
export function eventLink(state: ExplorerState, id: string, at: string): string {
  const search = toSearch({ ...state, live: false, panel: { kind: 'event', id, at, view: 'fields' } });
  return `${location.origin}${location.pathname}${search}`;
}
