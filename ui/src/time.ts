// Time ranges: relative ones ("the last hour", resolved when a search runs) and absolute
// ones, the histogram's bucket width, and how times are shown.

export const RELATIVE_RANGES = ['5m', '15m', '1h', '6h', '24h', '7d', '30d'] as const;
export type RelativeRange = (typeof RELATIVE_RANGES)[number];
export const DEFAULT_RANGE: RelativeRange = '1h';

export type TimeRange = { kind: 'relative'; last: RelativeRange } | { kind: 'absolute'; from: string; to: string };

// The bounds a search uses, as milliseconds since the epoch, both inclusive.
export interface Bounds {
  from: number;
  to: number;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function spanMs(last: RelativeRange): number {
  return Number(last.slice(0, -1)) * UNIT_MS[last.slice(-1)];
}

export function resolve(range: TimeRange, now: number): Bounds {
  if (range.kind === 'absolute') return { from: Date.parse(range.from), to: Date.parse(range.to) };
  return { from: now - spanMs(range.last), to: now };
}

export function isoMs(ms: number): string {
  return new Date(ms).toISOString();
}

// Bucket widths the histogram picks from, in seconds: the smallest that gives at most
// TARGET_BUCKETS bars.
const BUCKET_SECONDS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
];
const TARGET_BUCKETS = 80;

export function bucketSeconds(bounds: Bounds): number {
  const span = (bounds.to - bounds.from) / 1000;
  return BUCKET_SECONDS.find((seconds) => span / seconds <= TARGET_BUCKETS) ?? BUCKET_SECONDS.at(-1)!;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

// `2026-05-05 10:00:00.250` in the browser's time zone: the list's time column.
export function formatTime(iso: string): string {
  const d = new Date(iso);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

// `+1.250 s`, `+35 ms`: the offset of an event from an earlier one.
export function formatOffset(ms: number): string {
  if (Math.abs(ms) < 1000) return `+${ms} ms`;
  if (Math.abs(ms) < 60_000) return `+${(ms / 1000).toFixed(3)} s`;
  return `+${Math.floor(ms / 60_000)} min ${((ms % 60_000) / 1000).toFixed(3)} s`;
}

// The value of an `<input type="datetime-local">` for a time, in the browser's zone, and back.
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fromLocalInput(value: string): number {
  return new Date(value).getTime();
}
