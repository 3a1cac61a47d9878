// What every browser test shares: Debian's Chromium through playwright-core, a proxy in
// front of the query service (so a test can cut the page's connections, as a network would),
// screenshots of failures, and small helpers for what a user reads on the page.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { launchChromium } from './chromium.mjs';

export const QUERY_URL = required('QUERY_URL');
export const INGESTION_URL = required('INGESTION_URL');
export const API_KEY = process.env.EXPLORER_API_KEY || null;
export const ARTIFACTS = process.env.EXPLORER_ARTIFACTS ?? new URL('../../target/explorer', import.meta.url).pathname;

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set (run the tests through run.mjs)`);
  return value;
}

/// A reverse proxy to the query service on a free port; `cut()` drops every open connection
/// and `block()` / `unblock()` refuse new ones meanwhile (the page's requests fail).
async function startProxy() {
  const target = new URL(QUERY_URL);
  const sockets = new Set();
  let blocked = false;
  const server = http.createServer((request, response) => {
    if (blocked) {
      request.socket.destroy();
      return;
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers },
      (answer) => {
        response.writeHead(answer.statusCode, answer.rawHeaders);
        answer.pipe(response);
      },
    );
    upstream.on('error', () => response.destroy());
    // A cut connection ends its upstream request too (a live tail's stream would stay open).
    response.on('close', () => upstream.destroy());
    request.pipe(upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((listening) => server.listen(0, '127.0.0.1', listening));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    cut() {
      for (const socket of sockets) socket.destroy();
    },
    block() {
      blocked = true;
      this.cut();
    },
    unblock() {
      blocked = false;
    },
    close: () => new Promise((closed) => {
      for (const socket of sockets) socket.destroy();
      server.close(closed);
    }),
  };
}

/// A fresh browser profile with one page, going through its own proxy. Console errors and
/// uncaught exceptions are collected: a test fails on any it did not expect.
async function openBrowser(options = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'explorer-chromium-'));
  const proxy = await startProxy();
  const context = await launchChromium(profile, {
    colorScheme: options.colorScheme ?? 'light',
    acceptDownloads: true,
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  context.setDefaultTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  const requests = [];
  const watch = (p) => {
    p.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
    p.on('pageerror', (error) => problems.push(String(error)));
    p.on('request', (request) => requests.push(request.url()));
  };
  watch(page);
  context.on('page', watch);
  return {
    context,
    page,
    proxy,
    problems,
    requests,
    /// The page at `search` (`?q=…`), through the proxy.
    async open(search = '') {
      await page.goto(`${proxy.url}/${search}`);
      return page;
    },
    async close() {
      await context.close();
      await proxy.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/// A browser test: a fresh browser for `body`; a failure keeps a screenshot of the page in
/// target/explorer/failures/ (and fails the test). `allow` lists console errors the test
/// causes on purpose.
export function browserTest(name, body, { allow = [], colorScheme } = {}) {
  test(name, async () => {
    const browser = await openBrowser({ colorScheme });
    try {
      await body(browser);
      const unexpected = browser.problems.filter((text) => !allow.some((pattern) => pattern.test(text)));
      if (unexpected.length) throw new Error(`errors in the page's console:\n${unexpected.join('\n')}`);
    } catch (error) {
      const dir = join(ARTIFACTS, 'failures');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`);
      await browser.page.screenshot({ path: file }).catch(() => {});
      error.message += `\n(screenshot: ${file})`;
      throw error;
    } finally {
      await browser.close();
    }
  });
}

/// `?q=…&from=…&to=…`: a search over an absolute range, as the page's URL writes it.
export function searchOf(query, range, extra = {}) {
  const params = new URLSearchParams({ ...(query ? { q: query } : {}), ...(range ? { from: range.from, to: range.to } : {}), ...extra });
  return `?${params}`;
}

/// The number in the status line's "N events" once it is there.
export async function shownCount(page) {
  const status = page.locator('.status .count');
  await status.filter({ hasText: /\d events?$/ }).waitFor();
  return Number((await status.textContent()).replace(/[^\d]/g, ''));
}

/// Waits until the status line says `count` events and the list shows them.
export async function waitForCount(page, count) {
  const text = `${count.toLocaleString('en-US')} ${count === 1 ? 'event' : 'events'}`;
  await page.locator('.status .count', { hasText: new RegExp(`^${text}$`) }).waitFor();
  // And the first page of those events is shown.
  await page.locator('main.results[aria-busy="false"]').waitFor();
}

/// The messages of the rows shown, top to bottom (of the virtual list: the rendered ones).
export async function rowMessages(page) {
  return page.locator('.results .vrow .message').evaluateAll((cells) => cells.map((cell) => cell.textContent));
}

/// Types `query` into the query bar and presses Enter.
export async function runQuery(page, query) {
  const bar = page.getByRole('searchbox', { name: 'Query' });
  await bar.fill(query);
  await bar.press('Enter');
}

/// The test key (when there is one) and the tenant to act for (when named), as headers.
function keyHeaders(tenant) {
  return { ...(API_KEY ? { Authorization: `Bearer ${API_KEY}` } : {}), ...(tenant ? { 'X-Scope-OrgID': tenant } : {}) };
}

/// `GET <path>` on the query service, as `tenant` (default: the key's first): the JSON body.
export async function api(path, tenant) {
  const answer = await fetch(`${QUERY_URL}${path}`, { headers: keyHeaders(tenant) });
  if (!answer.ok) throw new Error(`${path}: ${answer.status} ${await answer.text()}`);
  return answer.json();
}

/// `POST /ingest` of `events` as one NDJSON batch, as `tenant` (default: the key's first).
export async function ingest(events, tenant) {
  const answer = await fetch(`${INGESTION_URL}/ingest`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-ndjson', ...keyHeaders(tenant) },
    body: events.map((event) => JSON.stringify(event)).join('\n'),
  });
  if (answer.status !== 202) throw new Error(`ingest: ${answer.status} ${await answer.text()}`);
}

/// Polls until `GET /logs/count?<query>` reaches `count` (as `tenant`, when named).
export async function waitForStored(query, count, { timeout = 60_000, tenant } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const { count: stored } = await api(`/logs/count?${query}`, tenant);
    if (stored >= count) return;
    if (Date.now() > deadline) throw new Error(`${query}: ${stored} of ${count} events stored after ${timeout} ms`);
    await new Promise((resume) => setTimeout(resume, 100));
  }
}
