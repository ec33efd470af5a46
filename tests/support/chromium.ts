/**
 * Debian's chromium, driven by playwright-core, for the page's browser tests and bench:query's
 * timing of the page: one path and one set of launch flags for both.
 */
import { existsSync } from 'node:fs'
import { type Browser, chromium } from 'playwright-core'

/** Where .ci/run installs it (`apt-get install -y chromium`). */
export const CHROMIUM = '/usr/bin/chromium'

/** Whether this machine has it. */
export function hasChromium(): boolean {
  return existsSync(CHROMIUM)
}

/** A headless chromium that reaches nothing but the pages it is sent to. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-gpu',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  })
}
