/**
 * Firefox for the browser tests: Debian's Firefox ESR (`/usr/bin/firefox-esr`, installed by
 * `npm test` like Chromium), driven by Playwright over WebDriver BiDi (its `moz-firefox` channel)
 * through ./firefox-bidi.mjs. Playwright's own Firefox build is a download this machine cannot make.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { firefox, type Browser } from '@playwright/test';

export const FIREFOX = '/usr/bin/firefox-esr';
const LAUNCHER = fileURLToPath(new URL('./firefox-bidi.mjs', import.meta.url));

/** What Chromium gets from its flags in playwright.config.ts, as Firefox preferences. */
const prefs = {
  // A fake camera and microphone, used without asking (Chromium: --use-fake-*-for-media-stream).
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  // Host candidates as addresses, not mDNS names that the other browsers here cannot resolve
  // (Chromium: --disable-features=WebRtcHideLocalIpsWithMdns), loopback included.
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.peerconnection.ice.loopback': true,
  // No update checks, telemetry or first-run pages on an offline machine.
  'app.update.auto': false,
  'browser.shell.checkDefaultBrowser': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.reportingpolicy.firstRun': false,
};

export async function launchFirefox(): Promise<Browser> {
  if (!existsSync(FIREFOX)) throw new Error(`${FIREFOX} is missing: npm test installs it (apt-get install firefox-esr).`);
  return firefox.launch({
    channel: 'moz-firefox',
    executablePath: LAUNCHER,
    env: { ...process.env, JOINUS_FIREFOX: FIREFOX },
    firefoxUserPrefs: prefs,
  });
}
