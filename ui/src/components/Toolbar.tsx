import type { ComponentChildren } from 'preact';
import type { TenantsAnswer } from '../api';
import type { ExplorerState } from '../state';
import type { ThemeChoice } from '../theme';

interface Props {
  state: ExplorerState;
  navigate: (change: Partial<ExplorerState>) => void;
  paused: boolean;
  onPause: (paused: boolean) => void;
  theme: ThemeChoice;
  onTheme: (choice: ThemeChoice) => void;
  onKey: () => void;
  // The key's tenants: a picker when it has several.
  tenants: TenantsAnswer | null;
  onTenant: (tenant: string) => void;
  children: ComponentChildren;
}

// Order, wrapping, live tail, export, theme, tenant and key.
export function Toolbar({ state, navigate, paused, onPause, theme, onTheme, onKey, tenants, onTenant, children }: Props) {
  return (
    <div class="toolbar">
      <label>
        Order{' '}
        <select aria-label="Order" value={state.order} onChange={(e) => navigate({ order: e.currentTarget.value as ExplorerState['order'] })}>
          <option value="desc">newest first</option>
          <option value="asc">oldest first</option>
        </select>
      </label>
      <label>
        <input type="checkbox" aria-label="Wrap lines" checked={state.wrap} onChange={(e) => navigate({ wrap: e.currentTarget.checked })} /> Wrap
      </label>
      <label>
        <input
          type="checkbox"
          aria-label="Live tail"
          checked={state.live}
          onChange={(e) => {
            onPause(false);
            navigate({ live: e.currentTarget.checked });
          }}
        />{' '}
        Live
      </label>
      {state.live && <button onClick={() => onPause(!paused)}>{paused ? 'Resume' : 'Pause'}</button>}
      {children}
      <span class="grow" />
      <label>
        Theme{' '}
        <select aria-label="Theme" value={theme} onChange={(e) => onTheme(e.currentTarget.value as ThemeChoice)}>
          <option value="system">system</option>
          <option value="light">light</option>
          <option value="dark">dark</option>
        </select>
      </label>
      {tenants && tenants.tenants.length > 1 && (
        <label>
          Tenant{' '}
          <select aria-label="Tenant" value={tenants.tenant} onChange={(e) => onTenant(e.currentTarget.value)}>
            {tenants.tenants.map((tenant) => (
              <option value={tenant}>{tenant}</option>
            ))}
          </select>
        </label>
      )}
      <button onClick={onKey} title="Enter or change the API key">
        API key
      </button>
    </div>
  );
}
