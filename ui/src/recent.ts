// Recent queries, newest first, kept in this browser (localStorage) across sessions.

const STORAGE = 'traceflow.recentQueries';
const KEEP = 20;

export function recentQueries(): string[] {
  try {
    const stored = JSON.parse(localStorage.getItem(STORAGE) ?? '[]');
    return Array.isArray(stored) ? stored.filter((q) => typeof q === 'string') : [];
  } catch {
    return [];
  }
}

export function remember(query: string): void {
  if (!query.trim()) return;
  const kept = recentQueries().filter((q) => q !== query);
  localStorage.setItem(STORAGE, JSON.stringify([query, ...kept].slice(0, KEEP)));
}
