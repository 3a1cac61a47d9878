// The live tail: `GET /logs/tail` read with fetch rather than EventSource, because
// EventSource cannot send the API key. Like EventSource, it reconnects by itself when the
// stream ends or breaks, sending the last event's id as `Last-Event-ID`, so the service sends
// what was stored meanwhile and nothing twice.

import { authHeaders, refused, type LogEvent } from './api';

export type TailStatus = 'connecting' | 'live' | 'reconnecting' | 'unauthorized';

export interface TailHandlers {
  onEvents: (events: LogEvent[]) => void;
  onStatus: (status: TailStatus) => void;
}

const RETRY_MS = [250, 500, 1000, 2000, 5000];

export class TailStream {
  private lastId: string | null = null;
  private abort = new AbortController();
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly handlers: TailHandlers,
  ) {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }

  private async run(): Promise<void> {
    let failures = 0;
    this.handlers.onStatus('connecting');
    while (!this.stopped) {
      try {
        const headers = authHeaders({ Accept: 'text/event-stream' });
        if (this.lastId) headers['Last-Event-ID'] = this.lastId;
        const response = await fetch(this.url, { headers, signal: this.abort.signal, cache: 'no-store' });
        if (response.status === 401) {
          refused();
          this.handlers.onStatus('unauthorized');
          return;
        }
        if (response.ok && response.body) {
          await this.read(response.body, () => {
            failures = 0;
            this.handlers.onStatus('live');
          });
        }
      } catch {
        // A broken connection: retried below, like a stream that ended.
      }
      if (this.stopped) return;
      this.handlers.onStatus('reconnecting');
      await new Promise((resume) => setTimeout(resume, RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)]));
    }
  }

  // Reads Server-Sent Events until the stream ends; events that arrive together are handed
  // over together, so a burst is one render.
  private async read(body: ReadableStream<Uint8Array>, connected: () => void): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let data: string[] = [];
    let id: string | null = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop() ?? '';
      const events: LogEvent[] = [];
      for (const line of lines) {
        if (line === '') {
          if (data.length) {
            events.push(JSON.parse(data.join('\n')) as LogEvent);
            if (id) this.lastId = id;
          }
          data = [];
          id = null;
        } else if (line.startsWith(':')) {
          if (line.slice(1).trim() === 'connected') connected();
        } else {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') data.push(text);
          else if (field === 'id') id = text;
        }
      }
      if (events.length) this.handlers.onEvents(events);
    }
  }
}
