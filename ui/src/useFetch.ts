import { useEffect, useState } from 'preact/hooks';

export interface Fetched<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
}

// The answer of `load` for the current `key`; an answer for an older key is dropped. A null
// key loads nothing.
export function useFetch<T>(key: string | null, load: (signal: AbortSignal) => Promise<T>): Fetched<T> {
  const [state, setState] = useState<Fetched<T>>({ data: null, error: null, loading: false });
  useEffect(() => {
    if (key === null) {
      setState({ data: null, error: null, loading: false });
      return;
    }
    const abort = new AbortController();
    setState((previous) => ({ data: previous.data, error: null, loading: true }));
    load(abort.signal).then(
      (data) => !abort.signal.aborted && setState({ data, error: null, loading: false }),
      (error: Error) => !abort.signal.aborted && setState({ data: null, error: error.message, loading: false }),
    );
    return () => abort.abort();
  }, [key]);
  return state;
}
