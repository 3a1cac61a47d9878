import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { StatsAnswer } from '../api';
import { LEVELS } from '../query';
import { formatTime, type Bounds } from '../time';

interface Props {
  stats: StatsAnswer | null;
  // Bucket width, in seconds.
  bucket: number;
  bounds: Bounds;
  // The resolved colour theme: the canvas is redrawn in its colours.
  theme: string;
  // A dragged span or a clicked bar: the range to narrow to (inclusive, milliseconds).
  onSelect: (bounds: Bounds) => void;
}

// Stacked from the bottom: the levels that need attention stay visible at the base.
const STACK = [...LEVELS].reverse();

// The colour of each level, from the stylesheet (`--level-error`, …), for the canvas.
function levelColours(): Record<string, string> {
  const style = getComputedStyle(document.documentElement);
  return Object.fromEntries(LEVELS.map((level) => [level, style.getPropertyValue(`--level-${level.toLowerCase()}`).trim()]));
}

// uPlot's data: the middle of each bucket (so the bar under the pointer is the nearest
// point), then for each level (top of the stack first, so each bar is drawn over the taller
// ones behind it) the running total up to that level.
function stackedData(stats: StatsAnswer, bucket: number): uPlot.AlignedData {
  const times = stats.buckets.map((b) => Date.parse(b.time) / 1000 + bucket / 2);
  const running = stats.buckets.map(() => 0);
  const layers = STACK.map((level) => stats.buckets.map((b, i) => (running[i] += b.counts?.[level] ?? 0)));
  return [times, ...layers.reverse()];
}

// Counts of the range over time, stacked by level. Drag across it to zoom into a span;
// click a bar to narrow to its bucket.
export function Histogram({ stats, bucket, bounds, theme, onSelect }: Props) {
  const container = useRef<HTMLDivElement>(null);
  const [hover, setHover] = useState<number | null>(null);
  const select = useRef(onSelect);
  select.current = onSelect;

  useEffect(() => {
    if (!stats || !container.current) return;
    const colours = levelColours();
    const style = getComputedStyle(document.documentElement);
    const axis = {
      stroke: style.getPropertyValue('--muted').trim(),
      grid: { stroke: style.getPropertyValue('--grid').trim(), width: 1 },
      ticks: { show: false },
    };
    const bars = uPlot.paths.bars!({ size: [0.9, 60] });
    const drawn = [...STACK].reverse();
    const options: uPlot.Options = {
      width: container.current.clientWidth || 800,
      height: 130,
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false }, y: false },
      scales: {
        x: { time: true, range: () => [bounds.from / 1000, (bounds.to + 1) / 1000] },
        y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
      },
      axes: [{ ...axis }, { ...axis, size: 48, values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? String(t) : '')) }],
      series: [{}, ...drawn.map((level) => ({ label: level, fill: colours[level], stroke: colours[level], width: 0, paths: bars, points: { show: false } }))],
      hooks: {
        setCursor: [(u) => setHover(u.cursor.idx ?? null)],
        setSelect: [
          (u) => {
            if (u.select.width < 4) return;
            const from = u.posToVal(u.select.left, 'x') * 1000;
            const to = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            select.current({ from: Math.round(from), to: Math.round(to) });
          },
        ],
      },
    };
    const chart = new uPlot(options, stackedData(stats, bucket), container.current);
    // A click is a press and release in place (a drag is handled by setSelect).
    let pressedAt = 0;
    chart.over.addEventListener('mousedown', (event) => (pressedAt = event.clientX));
    chart.over.addEventListener('mouseup', (event) => {
      const idx = chart.cursor.idx;
      if (Math.abs(event.clientX - pressedAt) >= 4 || idx == null) return;
      const start = Date.parse(stats.buckets[idx].time);
      select.current({ from: Math.max(start, bounds.from), to: Math.min(start + bucket * 1000 - 1, bounds.to) });
    });
    const resize = new ResizeObserver(() => chart.setSize({ width: container.current!.clientWidth, height: 130 }));
    resize.observe(container.current);
    return () => {
      resize.disconnect();
      chart.destroy();
    };
  }, [stats, theme]);

  const totals = Object.fromEntries(LEVELS.map((level) => [level, 0]));
  for (const b of stats?.buckets ?? []) for (const level of LEVELS) totals[level] += b.counts?.[level] ?? 0;
  const hovered = hover != null ? stats?.buckets[hover] : undefined;

  return (
    <section class="histogram" aria-label="Histogram">
      <div class="chart" ref={container} data-buckets={stats?.buckets.length ?? 0} />
      <div class="histogram-legend">
        {LEVELS.filter((level) => totals[level] > 0).map((level) => (
          <span key={level} class="legend-item" data-level={level}>
            <i class={`swatch level-${level.toLowerCase()}`} />
            {level} <b>{totals[level].toLocaleString('en-US')}</b>
          </span>
        ))}
        <span class="histogram-hover" aria-live="polite">
          {hovered
            ? `${formatTime(hovered.time)} (+${bucket} s): ${hovered.count.toLocaleString('en-US')} events`
            : 'Drag to zoom, click a bar to narrow to it'}
        </span>
      </div>
    </section>
  );
}
