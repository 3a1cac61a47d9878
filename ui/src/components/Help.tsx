import { Modal } from './Modal';

const EXAMPLES: [string, string][] = [
  ['timeout', 'the message contains "timeout", any case, also inside longer words'],
  ['"connection failed"', 'the message contains the phrase as written'],
  ['service:auth', 'the service is exactly auth'],
  ['level:error', 'the level is ERROR (TRACE, DEBUG, INFO, WARN, ERROR, FATAL; any case)'],
  ['trace_id:4bf92f35…', 'the event belongs to that trace (trace: works too)'],
  ['user_id=42', 'the metadata entry user_id is exactly 42'],
  ['region="eu west"', 'quotes for values with spaces, = or :; \\" and \\\\ inside quotes'],
  ['-service:health', 'a leading minus excludes: any clause above can be negated'],
  ['-"health check"', 'events whose message contains the phrase are left out'],
];

// The query syntax, with an example of each clause.
export function Help({ onClose }: { onClose: () => void }) {
  return (
    <Modal title="Query syntax" onClose={onClose}>
      <p>
        Clauses are separated by spaces, and every clause must hold. Press <kbd>Enter</kbd> to search, <kbd>/</kbd> to
        jump to the query bar, <kbd>↑</kbd> <kbd>↓</kbd> to pick a recent query.
      </p>
      <table class="help-table">
        <tbody>
          {EXAMPLES.map(([example, meaning]) => (
            <tr key={example}>
              <td>
                <code>{example}</code>
              </td>
              <td>{meaning}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        Each field and each metadata key takes one value (one to require, one to exclude). Click a value in an
        event or in the sidebar to add it as a filter (+) or an exclusion (−). The time range, order and the
        event you open are kept in the page's address: copy it to share what you see.
      </p>
    </Modal>
  );
}
