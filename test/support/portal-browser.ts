import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

// Debian's chromium (`apt-get install chromium`; .ci/run installs it), driven by playwright-core.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'portal', 'screenshots');
export const UI_TIMEOUT = 15_000;

/** One headless Chromium page on the portal, with what went wrong in it collected for assertions. */
export interface PortalBrowser {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Uncaught errors thrown in the page. */
  pageErrors: string[];
  /** Console messages that report a Content-Security-Policy violation. */
  cspViolations: string[];
  /** Writes a full-page screenshot to test/portal/screenshots/<name>.png (kept out of git). */
  shot(name: string): Promise<void>;
  /** Waits until no request the portal started is running. */
  idle(): Promise<void>;
  /** Signs in through the sign-in form and waits for the tenant's name in the header. */
  signIn(token: string, tenantName: string): Promise<void>;
  close(): Promise<void>;
}

export async function launchPortalBrowser(portalUrl: string): Promise<PortalBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  mkdirSync(SCREENSHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(portalUrl).origin });
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT);
  const pageErrors: string[] = [];
  const cspViolations: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  return {
    browser,
    context,
    page,
    pageErrors,
    cspViolations,
    shot: async (name) => {
      await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
    },
    idle: () => page.locator('#busy').waitFor({ state: 'hidden', timeout: UI_TIMEOUT }),
    signIn: async (token, tenantName) => {
      await page.goto(portalUrl);
      await page.getByLabel('Token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('#who .tenant-name', { hasText: tenantName }).waitFor();
    },
    close: () => browser.close(),
  };
}
