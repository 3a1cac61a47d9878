import { useEffect, useRef, useState } from 'preact/hooks';
import { recentQueries } from '../recent';

interface Props {
  query: string;
  error?: string;
  onRun: (query: string) => void;
  onHelp: () => void;
}

// The search box: Enter runs it, `/` anywhere on the page focuses it, and recent queries
// drop down under it (arrows to pick one, Enter to run it).
export function QueryBar({ query, error, onRun, onHelp }: Props) {
  const input = useRef<HTMLInputElement>(null);
  const [text, setText] = useState(query);
  const [open, setOpen] = useState(false);
  const [picked, setPicked] = useState(-1);

  useEffect(() => setText(query), [query]);

  useEffect(() => {
    const focusOnSlash = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement;
      if (event.key !== '/' || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
      event.preventDefault();
      input.current?.focus();
    };
    document.addEventListener('keydown', focusOnSlash);
    return () => document.removeEventListener('keydown', focusOnSlash);
  }, []);

  const recent = open ? recentQueries().filter((q) => q !== text && q.includes(text.trim())) : [];

  const run = (value: string) => {
    setOpen(false);
    setPicked(-1);
    setText(value);
    onRun(value.trim());
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      run(picked >= 0 && recent[picked] !== undefined ? recent[picked] : text);
    } else if (event.key === 'ArrowDown' && recent.length) {
      event.preventDefault();
      setPicked((i) => Math.min(i + 1, recent.length - 1));
    } else if (event.key === 'ArrowUp' && recent.length) {
      event.preventDefault();
      setPicked((i) => Math.max(i - 1, -1));
    } else if (event.key === 'Escape') {
      setOpen(false);
      input.current?.blur();
    }
  };

  return (
    <div class="querybar">
      <input
        ref={input}
        class={error ? 'query invalid' : 'query'}
        type="search"
        aria-label="Query"
        placeholder='service:auth level:error user_id=42 "connection failed"   (press / to search)'
        spellcheck={false}
        autocomplete="off"
        value={text}
        onInput={(event) => {
          setText(event.currentTarget.value);
          setPicked(-1);
          setOpen(true);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setOpen(false)}
        onKeyDown={onKeyDown}
      />
      <button class="help-button" title="Query syntax" aria-label="Query syntax" onClick={onHelp}>
        ?
      </button>
      {error && <div class="query-error" role="alert">{error}</div>}
      {recent.length > 0 && (
        <ul class="recent" role="listbox" aria-label="Recent queries">
          <li class="recent-title">Recent queries</li>
          {recent.slice(0, 10).map((q, i) => (
            <li
              key={q}
              role="option"
              aria-selected={i === picked}
              class={i === picked ? 'picked' : ''}
              // mousedown, not click: it comes before the input's blur closes the list.
              onMouseDown={(event) => {
                event.preventDefault();
                run(q);
              }}
            >
              {q}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
