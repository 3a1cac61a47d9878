import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { actFor, apiKey, getJson, setApiKey, whenUnauthorized, withParams, type ContextAnswer, type FacetsAnswer, type LogEvent, type StatsAnswer, type TenantsAnswer } from './api';
import { EventPanel } from './components/EventPanel';
import { ExportMenu } from './components/ExportMenu';
import { Facets } from './components/Facets';
import { Help } from './components/Help';
import { termPattern } from './components/Highlighted';
import { Histogram } from './components/Histogram';
import { KeyPrompt } from './components/KeyPrompt';
import { QueryBar } from './components/QueryBar';
import { ResultList } from './components/ResultList';
import { TimeRangePicker } from './components/TimeRangePicker';
import { Toolbar } from './components/Toolbar';
import { TraceView } from './components/TraceView';
import { filterParams, highlightTerms, parseQuery, withClause, type Clause } from './query';
import { remember } from './recent';
import { eventLink, fromSearch, toSearch, type ExplorerState } from './state';
import { bucketSeconds, isoMs, resolve } from './time';
import { useTheme } from './theme';
import { useFetch } from './useFetch';
import { useLiveTail } from './useLiveTail';
import { useResults } from './useResults';

// The state in the address bar: every change is a history entry, so Back undoes it.
function useUrlState(): [ExplorerState, (change: Partial<ExplorerState>) => void] {
  const [state, setState] = useState(() => fromSearch(location.search));
  useEffect(() => {
    const follow = () => setState(fromSearch(location.search));
    addEventListener('popstate', follow);
    return () => removeEventListener('popstate', follow);
  }, []);
  const navigate = useCallback((change: Partial<ExplorerState>) => {
    setState((previous) => {
      const next = { ...previous, ...change };
      history.pushState(null, '', toSearch(next) || location.pathname);
      return next;
    });
  }, []);
  return [state, navigate];
}

export function App() {
  const [state, navigate] = useUrlState();
  const theme = useTheme();
  const [help, setHelp] = useState(false);
  const [keyPrompt, setKeyPrompt] = useState<'missing' | 'rejected' | null>(null);
  const [paused, setPaused] = useState(false);
  // Bumped by Enter on the same query, or a new key: everything is asked again.
  const [run, setRun] = useState(0);
  const [opened, setOpened] = useState<LogEvent | null>(null);
  // Every call names the URL's tenant; another tenant (or key, or Enter) asks everything again.
  actFor(state.tenant);
  const generation = `${run}@${state.tenant ?? ''}`;

  useEffect(() => whenUnauthorized(() => setKeyPrompt(apiKey() ? 'rejected' : 'missing')), []);

  const parsed = useMemo(() => parseQuery(state.query), [state.query]);
  const { params: filters, error: queryError } = useMemo(() => filterParams(parsed), [parsed]);
  const pattern = useMemo(() => termPattern(highlightTerms(parsed)), [parsed]);
  // A relative range is resolved when the search runs, so every part of the page counts the
  // same span.
  const bounds = useMemo(() => resolve(state.range, Date.now()), [JSON.stringify(state.range), state.query, generation]);
  const search = useMemo(
    () => (queryError ? null : withParams(filters, { from: isoMs(bounds.from), to: isoMs(bounds.to) })),
    [filters, queryError, bounds],
  );
  const searchKey = search ? `${search}#${generation}` : null;
  const bucket = bucketSeconds(bounds);

  const results = useResults(search, state.order, generation);
  const count = useFetch(searchKey, (signal) => getJson<{ count: number }>('/logs/count', search!, signal));
  const stats = useFetch(searchKey, (signal) =>
    getJson<StatsAnswer>('/logs/stats', withParams(search!, { interval: `${bucket}s`, group_by: 'level' }), signal),
  );
  const facets = useFetch(searchKey, (signal) => getJson<FacetsAnswer>('/logs/facets', withParams(search!, { limit: 10 }), signal));
  const live = useLiveTail(queryError ? null : filters, state.live, paused, generation);
  const tenants = useFetch(`tenants#${generation}`, (signal) => getJson<TenantsAnswer>('/tenants', new URLSearchParams(), signal));

  const panel = state.panel;
  const known =
    panel?.kind === 'event'
      ? [opened, ...results.events, ...live.events].find((event) => event?.id === panel.id) ?? null
      : null;
  const fetchedEvent = useFetch(panel?.kind === 'event' && !known ? `${panel.id}@${panel.at}` : null, (signal) =>
    panel?.kind === 'event'
      ? getJson<ContextAnswer>('/logs/context', new URLSearchParams({ id: panel.id, timestamp: panel.at, before: '0', after: '0' }), signal)
      : Promise.reject(new Error('no event')),
  );
  const panelEvent = known ?? fetchedEvent.data?.event ?? null;

  const runQuery = (query: string) => {
    remember(query);
    if (query === state.query) setRun((n) => n + 1);
    else navigate({ query });
  };
  const addClause = (clause: Clause) => runQuery(withClause(state.query, clause));
  const openEvent = (event: LogEvent) => {
    setOpened(event);
    navigate({ panel: { kind: 'event', id: event.id, at: event.timestamp, view: 'fields' } });
  };
  const openTrace = (traceId: string) => navigate({ panel: { kind: 'trace', traceId } });
  const closePanel = () => navigate({ panel: null });
  const onNearEnd = useCallback(() => results.loadMore(), [results.loadMore]);

  const listed = state.live ? live.events : results.events;
  return (
    <div class="app">
      <header class="top">
        <h1>Traceflow</h1>
        <QueryBar query={state.query} error={queryError} onRun={runQuery} onHelp={() => setHelp(true)} />
        <TimeRangePicker range={state.range} bounds={bounds} onChange={(range) => navigate({ range })} />
      </header>
      <Toolbar
        state={state}
        navigate={navigate}
        paused={paused}
        onPause={setPaused}
        theme={theme.choice}
        onTheme={theme.setChoice}
        onKey={() => setKeyPrompt('missing')}
        tenants={tenants.data}
        onTenant={(tenant) => navigate({ tenant, panel: null })}
      >
        <ExportMenu search={search} order={state.order} />
      </Toolbar>
      <div class="body">
        <Facets facets={facets.data} error={facets.error} loading={facets.loading} onClause={addClause} />
        <main class="results" aria-busy={results.loading}>
          <Histogram
            stats={stats.data}
            bucket={bucket}
            bounds={bounds}
            theme={theme.resolved}
            onSelect={(b) => navigate({ range: { kind: 'absolute', from: isoMs(b.from), to: isoMs(b.to) } })}
          />
          <div class="status" role="status">
            {state.live ? (
              <LiveStatus status={live.status} waiting={live.waiting} shown={live.events.length} />
            ) : (
              <>
                <span class="count">
                  {count.data ? plural(count.data.count, 'event') : count.loading ? 'Counting…' : ''}
                </span>
                <span class="loaded">
                  {results.events.length.toLocaleString('en-US')} loaded{results.complete ? '' : results.loading ? ', loading more…' : ''}
                </span>
              </>
            )}
            {(results.error || count.error || stats.error) && (
              <span class="error" role="alert">
                {results.error ?? count.error ?? stats.error}
              </span>
            )}
          </div>
          <ResultList
            events={listed}
            pattern={pattern}
            wrap={state.wrap}
            selectedId={panel?.kind === 'event' ? panel.id : null}
            onOpen={openEvent}
            onNearEnd={state.live ? undefined : onNearEnd}
            empty={
              queryError
                ? 'Fix the query to search.'
                : state.live
                  ? 'Waiting for new events matching the query…'
                  : results.loading
                    ? 'Searching…'
                    : 'No events match.'
            }
          />
        </main>
        {panel?.kind === 'event' && (
          <EventPanel
            event={panelEvent}
            error={fetchedEvent.error}
            view={panel.view}
            pattern={pattern}
            link={eventLink(state, panel.id, panel.at)}
            onView={(view) => navigate({ panel: { ...panel, view } })}
            onClause={addClause}
            onTrace={openTrace}
            onOpen={openEvent}
            onClose={closePanel}
          />
        )}
        {panel?.kind === 'trace' && <TraceView traceId={panel.traceId} pattern={pattern} onOpen={openEvent} onClose={closePanel} />}
      </div>
      {help && <Help onClose={() => setHelp(false)} />}
      {keyPrompt && (
        <KeyPrompt
          rejected={keyPrompt === 'rejected'}
          onKey={(key) => {
            setApiKey(key);
            setKeyPrompt(null);
            setRun((n) => n + 1);
          }}
          onClose={apiKey() ? () => setKeyPrompt(null) : undefined}
        />
      )}
    </div>
  );
}

/// `1 event`, `20,000 events`.
function plural(count: number, noun: string): string {
  return `${count.toLocaleString('en-US')} ${noun}${count === 1 ? '' : 's'}`;
}

function LiveStatus({ status, waiting, shown }: { status: string; waiting: number; shown: number }) {
  const label = { off: '', connecting: 'connecting…', live: 'following new events', reconnecting: 'reconnecting…', unauthorized: 'the API key was refused' }[status];
  return (
    <span class={`live-status ${status}`} data-status={status}>
      <i class="dot" /> Live: {label} · {shown.toLocaleString('en-US')} shown
      {waiting > 0 && ` · ${waiting.toLocaleString('en-US')} new while paused`}
    </span>
  );
}
