import { useState } from 'preact/hooks';
import { Modal } from './Modal';

// Asks for the API key when the service refused a call; it is kept for this tab only.
export function KeyPrompt({ rejected, onKey, onClose }: { rejected: boolean; onKey: (key: string) => void; onClose?: () => void }) {
  const [key, setKey] = useState('');
  return (
    <Modal title="API key" onClose={onClose}>
      <form
        class="key-form"
        onSubmit={(event) => {
          event.preventDefault();
          if (key.trim()) onKey(key.trim());
        }}
      >
        <p>
          {rejected
            ? 'The query service refused the key: enter a valid one.'
            : 'This query service needs an API key (one of QUERY_API_KEYS).'}{' '}
          It is kept in this browser tab only, until the tab is closed.
        </p>
        <input type="password" aria-label="API key" autoFocus value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        <button type="submit">Use this key</button>
      </form>
    </Modal>
  );
}
