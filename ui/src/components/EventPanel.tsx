import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { LogEvent } from '../api';
import { signed, type Clause, type ClauseTarget, type Field } from '../query';
import { formatTime } from '../time';
import { ContextView } from './ContextView';
import { Highlighted } from './Highlighted';

interface Props {
  event: LogEvent | null;
  error: string | null;
  view: 'fields' | 'context';
  pattern: RegExp | null;
  link: string;
  onView: (view: 'fields' | 'context') => void;
  onClause: (clause: Clause) => void;
  onTrace: (traceId: string) => void;
  onOpen: (event: LogEvent) => void;
  onClose: () => void;
}

// Copies `text`; the textarea fallback covers pages the Clipboard API refuses.
async function copy(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
}

function CopyButton({ label, text }: { label: string; text: () => string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      onClick={async () => {
        await copy(text());
        setCopied(true);
        setTimeout(() => setCopied(false), 1500);
      }}
    >
      {copied ? 'Copied' : label}
    </button>
  );
}

// + and − beside a value: add it to the query as a filter or an exclusion.
function FilterButtons({ clause, onClause }: { clause: ClauseTarget; onClause: (c: Clause) => void }) {
  return (
    <span class="filter-buttons">
      <button title="Filter for this value" aria-label="Filter for this value" onClick={() => onClause(signed(clause, false))}>
        +
      </button>
      <button title="Exclude this value" aria-label="Exclude this value" onClick={() => onClause(signed(clause, true))}>
        −
      </button>
    </span>
  );
}

function Row({ name, children }: { name: string; children: ComponentChildren }) {
  return (
    <tr data-field={name}>
      <th>{name}</th>
      <td>{children}</td>
    </tr>
  );
}

// The expanded event: every field, its metadata as a table, and its context.
export function EventPanel(props: Props) {
  const { event, error, view, pattern, link, onView, onClause, onTrace, onClose } = props;
  const field = (name: Field, value: string) => (
    <Row name={name}>
      <span class="value">{value}</span>
      <FilterButtons clause={{ kind: 'field', field: name, value }} onClause={onClause} />
    </Row>
  );
  return (
    <aside class="panel" aria-label="Event">
      <header>
        <div class="tabs" role="tablist">
          <button role="tab" aria-selected={view === 'fields'} onClick={() => onView('fields')}>
            Event
          </button>
          <button role="tab" aria-selected={view === 'context'} onClick={() => onView('context')}>
            Context
          </button>
        </div>
        <span class="grow" />
        {event && <CopyButton label="Copy JSON" text={() => JSON.stringify(event, null, 2)} />}
        {event && <CopyButton label="Copy link" text={() => link} />}
        <a class="permalink" href={link} title="Link to this event">
          Link
        </a>
        <button class="close" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      {error && <div class="error" role="alert">{error}</div>}
      {!event && !error && <div class="empty">Loading the event…</div>}
      {event && view === 'fields' && (
        <div class="panel-body">
          <table class="fields">
            <tbody>
              <Row name="timestamp">{formatTime(event.timestamp)} <span class="muted">({event.timestamp})</span></Row>
              {field('service', event.service)}
              {field('level', event.level)}
              {event.trace_id && (
                <Row name="trace_id">
                  <button class="link" title="Every event of this trace" onClick={() => onTrace(event.trace_id)}>
                    {event.trace_id}
                  </button>
                  <FilterButtons clause={{ kind: 'field', field: 'trace_id', value: event.trace_id }} onClause={onClause} />
                </Row>
              )}
              <Row name="id">{event.id}</Row>
            </tbody>
          </table>
          <h3>Message</h3>
          <pre class="full-message">
            <Highlighted text={event.message} pattern={pattern} />
          </pre>
          <h3>Metadata</h3>
          {Object.keys(event.metadata).length === 0 ? (
            <p class="muted">No metadata.</p>
          ) : (
            <table class="metadata">
              <thead>
                <tr>
                  <th>key</th>
                  <th>value</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {Object.entries(event.metadata).map(([key, value]) => (
                  <tr key={key} data-key={key}>
                    <td class="key">{key}</td>
                    <td class="value">{value}</td>
                    <td>
                      <FilterButtons clause={{ kind: 'metadata', key, value }} onClause={onClause} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
      {event && view === 'context' && <ContextView event={event} pattern={pattern} onOpen={props.onOpen} />}
    </aside>
  );
}
