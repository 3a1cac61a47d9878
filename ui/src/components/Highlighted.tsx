import type { ComponentChildren } from 'preact';

// Most marks one text gets: a 256 KiB message full of a short word stays cheap to render.
const MAX_MARKS = 500;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// One regular expression finding any of `terms`, longest first, any case; null for none.
export function termPattern(terms: string[]): RegExp | null {
  const unique = [...new Set(terms.filter((t) => t !== ''))].sort((a, b) => b.length - a.length);
  return unique.length ? new RegExp(unique.map(escapeRegExp).join('|'), 'gi') : null;
}

// `text` with every occurrence of the search's words and phrases in a `<mark>`, as the
// service matches them (any case, inside longer words too).
export function Highlighted({ text, pattern }: { text: string; pattern: RegExp | null }) {
  if (!pattern) return <>{text}</>;
  const parts: ComponentChildren[] = [];
  let last = 0;
  pattern.lastIndex = 0;
  for (let match = pattern.exec(text); match && parts.length < MAX_MARKS * 2; match = pattern.exec(text)) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push(<mark key={match.index}>{match[0]}</mark>);
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return <>{parts}</>;
}
