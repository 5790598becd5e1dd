// Debian's Chromium, headless, driven by playwright-core: pages as a person sees them, with screenshots.
// playwright-core never downloads a browser; scripts/install-prereqs.sh installs /usr/bin/chromium.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Flags for a closed network: nothing in the background reaches out, no first-run work, no sandbox as root. */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Headless {
  open(url: string): Promise<Page>;
  /** Saves a PNG of the page and returns its path. */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

/** Screenshots go to `shotsDir` (the test's temp directory) when given, else to a fresh temp directory. */
export async function launchChromium(shotsDir?: string): Promise<Headless> {
  // playwright-core gives every launch a fresh, empty profile of its own.
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  const shots = shotsDir ?? (await mkdtemp(join(tmpdir(), 'tsdeploy-screenshots-')));
  return {
    async open(url) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, javaScriptEnabled: false });
      await page.goto(url, { waitUntil: 'load' });
      return page;
    },
    async screenshot(page, name) {
      const path = join(shots, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    close: () => browser.close(),
  };
}
