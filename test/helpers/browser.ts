/**
 * Headless Chromium for browser tests: Debian's package driven by playwright-core (never `npx playwright install`;
 * `scripts/ensure-chromium.sh` installs it). Tests skip by name when it is missing:
 * `it.skipIf(!browserAvailable())('... (needs Chromium: apt-get install chromium)', ...)`.
 */
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

/** The Chromium binary: `CHROMIUM_PATH`, else Debian's. */
export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
}

/** Whether the Chromium binary exists and is executable (synchronous, for `it.skipIf`). */
export function browserAvailable(): boolean {
  try {
    accessSync(chromiumPath(), constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Launches headless Chromium. `chromium.launch` gives every browser a fresh temporary profile (user-data dir) and
 * deletes it on `close()`; the flags keep it off the network except for what a page asks for.
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A browser context whose requests may only reach loopback hosts; anything else is aborted at once instead of
 * waiting on a network the test machines do not have (oidc-provider's pages import a Google font, for one).
 */
export async function loopbackOnlyContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext();
  await context.route(
    (url) => !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname),
    (route) => route.abort('blockedbyclient'),
  );
  return context;
}
