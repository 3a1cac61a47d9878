import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';

// A list that renders only the rows in (and near) view, however many it holds: rows may
// differ in height (wrapped lines); each is measured once shown, and estimated until then.

interface Props<T> {
  items: T[];
  keyOf: (item: T) => string;
  renderRow: (item: T, index: number) => ComponentChildren;
  // Height assumed for a row not yet measured.
  estimate: number;
  // Called when the rows shown come within a screen of the end (to load more).
  onNearEnd?: () => void;
  // Measured heights are forgotten when this changes (wrap turned on or off).
  layoutKey?: string;
}

// Rendered above and below the visible part, in pixels: scrolling shows rows already there.
const OVERSCAN = 600;

export function VirtualList<T>({ items, keyOf, renderRow, estimate, onNearEnd, layoutKey }: Props<T>) {
  const scroller = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>());
  const [viewport, setViewport] = useState({ top: 0, height: 800 });
  const [measured, setMeasured] = useState(0);

  useEffect(() => {
    heights.current.clear();
    setMeasured((n) => n + 1);
  }, [layoutKey]);

  // Row i starts at offsets[i]; offsets[items.length] is the whole height.
  const offsets = useMemo(() => {
    const offsets = new Float64Array(items.length + 1);
    for (let i = 0; i < items.length; i++) {
      offsets[i + 1] = offsets[i] + (heights.current.get(keyOf(items[i])) ?? estimate);
    }
    return offsets;
  }, [items, measured, estimate]);

  const first = Math.max(0, rowAt(offsets, viewport.top - OVERSCAN));
  const last = Math.min(items.length, rowAt(offsets, viewport.top + viewport.height + OVERSCAN) + 1);

  useEffect(() => {
    const element = scroller.current!;
    const update = () => setViewport({ top: element.scrollTop, height: element.clientHeight });
    update();
    element.addEventListener('scroll', update, { passive: true });
    const resize = new ResizeObserver(update);
    resize.observe(element);
    return () => {
      element.removeEventListener('scroll', update);
      resize.disconnect();
    };
  }, []);

  useEffect(() => {
    if (onNearEnd && offsets[items.length] - (viewport.top + viewport.height) < viewport.height + OVERSCAN) onNearEnd();
  }, [viewport, items.length, onNearEnd]);

  // Measures the rows just rendered. A row above the view that turns out taller or shorter
  // than estimated moves the rows below it: the scroll position moves with them, so what
  // the user looks at stays put.
  const rows = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const element = scroller.current!;
    let changed = false;
    let shiftAbove = 0;
    for (const row of Array.from(rows.current!.children) as HTMLElement[]) {
      const key = row.dataset.key!;
      const height = row.offsetHeight;
      const before = heights.current.get(key) ?? estimate;
      if (height !== before) {
        heights.current.set(key, height);
        changed = true;
        if (Number(row.dataset.index) < rowAt(offsets, element.scrollTop)) shiftAbove += height - before;
      } else if (!heights.current.has(key)) {
        heights.current.set(key, height);
      }
    }
    if (changed) {
      if (shiftAbove) element.scrollTop += shiftAbove;
      setMeasured((n) => n + 1);
    }
  });

  const shown = [];
  for (let i = first; i < last; i++) {
    const item = items[i];
    const key = keyOf(item);
    shown.push(
      <div class="vrow" key={key} data-key={key} data-index={i} style={{ transform: `translateY(${offsets[i]}px)` }}>
        {renderRow(item, i)}
      </div>,
    );
  }
  return (
    <div class="vlist" ref={scroller}>
      <div class="vlist-space" style={{ height: `${offsets[items.length]}px` }} ref={rows}>
        {shown}
      </div>
    </div>
  );
}

// The index of the row that covers `y` (binary search over the offsets).
function rowAt(offsets: Float64Array, y: number): number {
  let low = 0;
  let high = offsets.length - 2;
  if (high < 0) return 0;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (offsets[mid] <= y) low = mid;
    else high = mid - 1;
  }
  return low;
}
