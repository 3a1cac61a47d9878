import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { getJson, withParams, type LogEvent, type SearchPage } from './api';
import type { Order } from './state';

// Events a page asks for: the API's largest page, so 20,000 events are 20 requests.
const PAGE_SIZE = 1000;

export interface Results {
  events: LogEvent[];
  loading: boolean;
  error: string | null;
  // Every matching event is loaded.
  complete: boolean;
  loadMore: () => void;
}

// The matching events, a page at a time over the service's cursors: each page starts right
// after the last event of the one before in the sort order, so none is skipped or repeated
// however many share a timestamp. `search` is null while the query cannot be run; a new
// `run` asks again.
export function useResults(search: URLSearchParams | null, order: Order, run: string): Results {
  const [events, setEvents] = useState<LogEvent[]>([]);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [complete, setComplete] = useState(false);
  // The cursor of the next page, and the search it belongs to: an answer to an older search
  // is dropped.
  const next = useRef<{ key: string; cursor?: string; busy: boolean; done: boolean }>({ key: '', busy: false, done: true });
  const key = search ? `${search}&order=${order}#${run}` : '';

  const load = useCallback(
    (fresh: boolean) => {
      const page = next.current;
      if (!search || page.key !== key || page.busy || (page.done && !fresh)) return;
      page.busy = true;
      setLoading(true);
      const params = withParams(search, { order: page.cursor ? undefined : order, limit: PAGE_SIZE, cursor: page.cursor });
      getJson<SearchPage>('/logs', params).then(
        (answer) => {
          if (next.current !== page) return;
          page.busy = false;
          page.cursor = answer.next_cursor;
          page.done = !answer.next_cursor;
          setEvents((loaded) => (fresh ? answer.logs : loaded.concat(answer.logs)));
          setComplete(page.done);
          setLoading(false);
        },
        (failure: Error) => {
          if (next.current !== page) return;
          page.busy = false;
          setError(failure.message);
          setLoading(false);
        },
      );
    },
    [key],
  );

  useEffect(() => {
    next.current = { key, busy: false, done: false };
    setEvents([]);
    setError(null);
    setComplete(false);
    if (search) load(true);
  }, [key]);

  const loadMore = useCallback(() => load(false), [load]);
  return { events, loading, error, complete, loadMore };
}
