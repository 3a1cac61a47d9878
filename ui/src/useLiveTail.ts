import { useEffect, useRef, useState } from 'preact/hooks';
import type { LogEvent } from './api';
import { TailStream, type TailStatus } from './tail';

// Events the live list keeps, newest first; older ones drop off its end.
const KEEP = 5000;

export interface LiveTail {
  events: LogEvent[];
  status: TailStatus | 'off';
  // Events received while paused, shown on resume.
  waiting: number;
}

// Follows new events matching `filters` while `on`; while `paused`, events still arrive
// and wait, so resuming loses none. A new `run` (a new key, say) starts again.
export function useLiveTail(filters: URLSearchParams | null, on: boolean, paused: boolean, run: string): LiveTail {
  const [events, setEvents] = useState<LogEvent[]>([]);
  const [status, setStatus] = useState<TailStatus | 'off'>('off');
  const [waiting, setWaiting] = useState(0);
  const held = useRef<LogEvent[]>([]);
  const pausedNow = useRef(paused);
  pausedNow.current = paused;

  const show = (arrived: LogEvent[]) => setEvents((shown) => [...arrived.reverse(), ...shown].slice(0, KEEP));

  const key = on && filters ? `${filters}#${run}` : null;
  useEffect(() => {
    setEvents([]);
    held.current = [];
    setWaiting(0);
    if (key === null) {
      setStatus('off');
      return;
    }
    const stream = new TailStream(`/logs/tail?${filters}`, {
      onStatus: setStatus,
      onEvents: (arrived) => {
        if (pausedNow.current) {
          held.current.push(...arrived);
          setWaiting(held.current.length);
        } else {
          show(arrived);
        }
      },
    });
    return () => stream.stop();
  }, [key]);

  useEffect(() => {
    if (paused || held.current.length === 0) return;
    show(held.current);
    held.current = [];
    setWaiting(0);
  }, [paused]);

  return { events, status, waiting };
}
