import type { LogEvent } from '../api';
import { LogRow } from './LogRow';
import { VirtualList } from './VirtualList';

interface Props {
  events: LogEvent[];
  pattern: RegExp | null;
  wrap: boolean;
  selectedId: string | null;
  onOpen: (event: LogEvent) => void;
  onNearEnd?: () => void;
  // Shown when there is nothing to list.
  empty: string;
}

// A row's height on one line; wrapped rows are measured.
const LINE_HEIGHT = 24;

export function ResultList({ events, pattern, wrap, selectedId, onOpen, onNearEnd, empty }: Props) {
  if (events.length === 0) return <div class="empty">{empty}</div>;
  return (
    <VirtualList
      items={events}
      keyOf={(event) => event.id}
      estimate={LINE_HEIGHT}
      layoutKey={wrap ? 'wrap' : 'line'}
      onNearEnd={onNearEnd}
      renderRow={(event) => (
        <LogRow event={event} pattern={pattern} wrap={wrap} selected={event.id === selectedId} onOpen={onOpen} />
      )}
    />
  );
}
