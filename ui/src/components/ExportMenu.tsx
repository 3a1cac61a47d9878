import { useState } from 'preact/hooks';
import { apiKey, request, withParams } from '../api';
import type { Order } from '../state';

// The file name the service gave in Content-Disposition, else a plain one.
function fileName(response: Response, format: string): string {
  const header = response.headers.get('Content-Disposition') ?? '';
  return /filename="?([^";]+)"?/.exec(header)?.[1] ?? `traceflow-logs.${format}`;
}

function save(href: string, name?: string): void {
  const link = document.createElement('a');
  link.href = href;
  link.download = name ?? '';
  document.body.append(link);
  link.click();
  link.remove();
}

// Downloads every event matching the search (not only those loaded), streamed by
// `GET /logs/export`. Without an API key the browser fetches the file itself, straight to
// disk; with one, the page must send the key, so it fetches the file and then saves it.
export function ExportMenu({ search, order }: { search: URLSearchParams | null; order: Order }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const download = async (format: 'ndjson' | 'csv') => {
    if (!search) return;
    const url = `/logs/export?${withParams(search, { order, format })}`;
    setError(null);
    if (!apiKey()) return save(url);
    setBusy(true);
    try {
      const response = await request(url);
      const blob = URL.createObjectURL(await response.blob());
      save(blob, fileName(response, format));
      setTimeout(() => URL.revokeObjectURL(blob), 60_000);
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="export" role="group" aria-label="Export">
      <span class="muted">Export</span>
      <button disabled={!search || busy} onClick={() => download('ndjson')}>
        NDJSON
      </button>
      <button disabled={!search || busy} onClick={() => download('csv')}>
        CSV
      </button>
      {error && <span class="error">{error}</span>}
    </div>
  );
}
