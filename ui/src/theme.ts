import { useEffect, useState } from 'preact/hooks';

// Light and dark themes: the system's by default, or the one the user picked (kept in this
// browser). The stylesheet reads `data-theme` on the root element.

export type ThemeChoice = 'system' | 'light' | 'dark';
const STORAGE = 'traceflow.theme';
const DARK = '(prefers-color-scheme: dark)';

function stored(): ThemeChoice {
  const value = localStorage.getItem(STORAGE);
  return value === 'light' || value === 'dark' ? value : 'system';
}

export function useTheme(): { choice: ThemeChoice; resolved: 'light' | 'dark'; setChoice: (c: ThemeChoice) => void } {
  const [choice, setChoiceState] = useState<ThemeChoice>(stored);
  const [systemDark, setSystemDark] = useState(() => matchMedia(DARK).matches);
  useEffect(() => {
    const media = matchMedia(DARK);
    const follow = () => setSystemDark(media.matches);
    media.addEventListener('change', follow);
    return () => media.removeEventListener('change', follow);
  }, []);
  const resolved = choice === 'system' ? (systemDark ? 'dark' : 'light') : choice;
  useEffect(() => {
    document.documentElement.dataset.theme = resolved;
  }, [resolved]);
  const setChoice = (next: ThemeChoice) => {
    if (next === 'system') localStorage.removeItem(STORAGE);
    else localStorage.setItem(STORAGE, next);
    setChoiceState(next);
  };
  return { choice, resolved, setChoice };
}
