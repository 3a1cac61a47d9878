import { useEffect, useState } from 'preact/hooks';
import { fromLocalInput, isoMs, RELATIVE_RANGES, toLocalInput, type Bounds, type TimeRange } from '../time';

interface Props {
  range: TimeRange;
  // What the range means now (a relative range resolved when the search ran).
  bounds: Bounds;
  onChange: (range: TimeRange) => void;
}

// The last 5 minutes to 30 days, or an absolute range from one time to another (in the
// browser's time zone, to the second).
export function TimeRangePicker({ range, bounds, onChange }: Props) {
  const [from, setFrom] = useState(toLocalInput(bounds.from));
  const [to, setTo] = useState(toLocalInput(bounds.to));
  useEffect(() => {
    setFrom(toLocalInput(bounds.from));
    setTo(toLocalInput(bounds.to));
  }, [bounds.from, bounds.to]);

  const apply = (event: Event) => {
    event.preventDefault();
    const start = fromLocalInput(from);
    // The upper bound covers its whole second.
    const end = fromLocalInput(to) + 999;
    if (Number.isNaN(start) || Number.isNaN(end) || start > end) return;
    onChange({ kind: 'absolute', from: isoMs(start), to: isoMs(end) });
  };

  return (
    <div class="timerange">
      <div class="segmented" role="group" aria-label="Relative time range">
        {RELATIVE_RANGES.map((last) => (
          <button
            key={last}
            aria-pressed={range.kind === 'relative' && range.last === last}
            onClick={() => onChange({ kind: 'relative', last })}
          >
            {last}
          </button>
        ))}
      </div>
      <form class="absolute" onSubmit={apply} aria-label="Absolute time range">
        <input
          type="datetime-local"
          step="1"
          aria-label="From"
          value={from}
          onInput={(e) => setFrom(e.currentTarget.value)}
        />
        <span>–</span>
        <input type="datetime-local" step="1" aria-label="To" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
        <button type="submit" class={range.kind === 'absolute' ? 'active' : ''}>
          Apply
        </button>
      </form>
    </div>
  );
}
