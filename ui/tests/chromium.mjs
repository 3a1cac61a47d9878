// Debian's Chromium as the browser tests and the benchmark harness (ui/bench/) run it.

import { chromium } from 'playwright-core';

// Without these, Chromium on a machine with no network waits on its own background requests.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/// A headless Chromium with a fresh profile in `profile` (a directory), at a desktop size in
/// UTC and en-US, so that what a page shows does not depend on the machine's settings.
export function launchChromium(profile, options = {}) {
  return chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    args: FLAGS,
    headless: true,
    viewport: { width: 1440, height: 900 },
    timezoneId: 'UTC',
    locale: 'en-US',
    ...options,
  });
}
