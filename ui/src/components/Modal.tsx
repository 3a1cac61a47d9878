import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';

// A dialog over the page; Escape or the backdrop closes it.
export function Modal({ title, onClose, children }: { title: string; onClose?: () => void; children: ComponentChildren }) {
  useEffect(() => {
    const closeOnEscape = (event: KeyboardEvent) => event.key === 'Escape' && onClose?.();
    document.addEventListener('keydown', closeOnEscape);
    return () => document.removeEventListener('keydown', closeOnEscape);
  }, [onClose]);
  return (
    <div class="backdrop" onClick={(event) => event.target === event.currentTarget && onClose?.()}>
      <div class="modal" role="dialog" aria-label={title}>
        <header>
          <h2>{title}</h2>
          {onClose && (
            <button class="close" aria-label="Close" onClick={onClose}>
              ×
            </button>
          )}
        </header>
        {children}
      </div>
    </div>
  );
}
