// Calls to the query service, on the page's own origin, with the API key the user entered
// and the tenant the page acts for.
//
// The key lives in sessionStorage only: it survives a reload of this tab, and is gone when the
// tab closes; it is never put in a URL or in localStorage.

export interface LogEvent {
  id: string;
  timestamp: string;
  service: string;
  level: string;
  message: string;
  trace_id: string;
  metadata: Record<string, string>;
}

export interface SearchPage {
  count: number;
  logs: LogEvent[];
  next_cursor?: string;
}

export interface StatsAnswer {
  from: string;
  to: string;
  buckets: { time: string; count: number; counts?: Record<string, number> }[];
}

export interface FacetValue {
  value: string;
  count: number;
}

export interface FacetsAnswer {
  from: string;
  to: string;
  total: number;
  service: FacetValue[];
  level: FacetValue[];
  metadata: { key: string; count: number; values: FacetValue[] }[];
}

export interface TenantsAnswer {
  tenant: string;
  tenants: string[];
}

export interface ContextAnswer {
  event: LogEvent;
  before: LogEvent[];
  after: LogEvent[];
}

const KEY_STORAGE = 'traceflow.apiKey';

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function setApiKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

// Told when the service refuses the key (or its absence), so the page can ask for one.
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(callback: () => void): void {
  onUnauthorized = callback;
}

// A call the service answered 401 (the live tail reads its stream itself).
export function refused(): void {
  onUnauthorized();
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

// The tenant the page acts for, from its URL; null acts for the key's first.
let actingTenant: string | null = null;
export function actFor(tenant: string | null): void {
  actingTenant = tenant;
}

export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const key = apiKey();
  const headers: Record<string, string> = key ? { ...extra, Authorization: `Bearer ${key}` } : { ...extra };
  if (actingTenant) headers['X-Scope-OrgID'] = actingTenant;
  return headers;
}

// `fetch` with the key; a non-2xx answer is an ApiError carrying the service's `error` text.
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(path, { ...init, headers: authHeaders(init.headers as Record<string, string>) });
  if (response.ok) return response;
  if (response.status === 401) refused();
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (typeof body?.error === 'string') message = body.error;
  } catch {
    // Not JSON: the status line says enough.
  }
  throw new ApiError(response.status, message);
}

export async function getJson<T>(path: string, params: URLSearchParams, signal?: AbortSignal): Promise<T> {
  const response = await request(`${path}?${params}`, { signal });
  return (await response.json()) as T;
}

// `base` with `extra` set on a copy.
export function withParams(base: URLSearchParams, extra: Record<string, string | number | undefined>): URLSearchParams {
  const params = new URLSearchParams(base);
  for (const [name, value] of Object.entries(extra)) {
    if (value !== undefined) params.set(name, String(value));
  }
  return params;
}
