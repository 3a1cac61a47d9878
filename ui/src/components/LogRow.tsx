import type { LogEvent } from '../api';
import { formatTime } from '../time';
import { Highlighted } from './Highlighted';

// What a row shows of a message at most: a 256 KiB message is a line of the list like any
// other, and opens whole in the event panel. Wrapped rows show more, up to a few lines.
const ROW_CHARS = { line: 400, wrapped: 3000 };

export function bytesLabel(length: number): string {
  return length >= 1024 ? `${Math.round(length / 1024)} KiB` : `${length} characters`;
}

interface Props {
  event: LogEvent;
  pattern: RegExp | null;
  wrap: boolean;
  selected: boolean;
  onOpen: (event: LogEvent) => void;
}

// One event in the list: time, level, service, message with the search terms marked.
export function LogRow({ event, pattern, wrap, selected, onOpen }: Props) {
  const limit = wrap ? ROW_CHARS.wrapped : ROW_CHARS.line;
  let shown = event.message.length > limit ? event.message.slice(0, limit) : event.message;
  if (!wrap) shown = shown.replace(/\r?\n/g, ' ⏎ ');
  const rest = event.message.length - limit;
  return (
    <div
      class={`logrow${wrap ? ' wrap' : ''}${selected ? ' selected' : ''}`}
      role="row"
      tabIndex={0}
      aria-selected={selected}
      onClick={() => onOpen(event)}
      onKeyDown={(e) => e.key === 'Enter' && onOpen(event)}
    >
      <span class="time">{formatTime(event.timestamp)}</span>
      <span class={`level level-${event.level.toLowerCase()}`}>{event.level}</span>
      <span class="service">{event.service}</span>
      <span class="message">
        <Highlighted text={shown} pattern={pattern} />
        {rest > 0 && <span class="more"> … {bytesLabel(rest)} more</span>}
      </span>
    </div>
  );
}
