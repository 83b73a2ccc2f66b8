#!/usr/bin/env node
/**
 * Debian's Firefox ESR, launched for Playwright's WebDriver BiDi channel (`moz-firefox`): Playwright
 * starts this file as the browser's executable with Firefox's own arguments. Playwright's
 * Firefox build cannot be downloaded here (offline), but stock Firefox speaks WebDriver BiDi.
 *
 * Playwright 1.65 sends one BiDi command on every new context that this Firefox (153 ESR) does not
 * have yet: `emulation.setMediaFeaturesOverride` (prefers-color-scheme emulation, which no test
 * uses). A WebSocket relay between the two answers that command with success and passes every other
 * message through unchanged, both ways. Nothing about the pages, their network or WebRTC goes
 * through it: only the test driver's own protocol.
 */
import { spawn } from 'node:child_process';
import { WebSocket, WebSocketServer } from 'ws';

const FIREFOX = process.env.JOINUS_FIREFOX ?? '/usr/bin/firefox-esr';
/** Commands this Firefox lacks and whose effect no test needs: answered here, never sent on. */
const ANSWERED_HERE = new Set(['emulation.setMediaFeaturesOverride']);
const LISTENING = /WebDriver BiDi listening on (ws:\/\/\S+)/;

const firefox = spawn(FIREFOX, process.argv.slice(2), { stdio: ['ignore', 'inherit', 'pipe'] });
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => firefox.kill(signal));
firefox.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
firefox.on('error', (err) => {
  process.stderr.write(`Could not start ${FIREFOX}: ${err.message}\n`);
  process.exit(1);
});

// Firefox's output line by line, unchanged, except the line that says where BiDi listens: that one
// names the relay instead, once the relay listens.
let partial = '';
let relaying = false;
firefox.stderr.on('data', (chunk) => {
  const lines = (partial + chunk.toString()).split('\n');
  partial = lines.pop() ?? '';
  for (const line of lines) {
    const m = relaying ? null : LISTENING.exec(line);
    if (!m) {
      process.stderr.write(`${line}\n`);
      continue;
    }
    relaying = true;
    relay(m[1], `${line}\n`);
  }
});
firefox.stderr.on('end', () => partial && process.stderr.write(partial));

/** Listens where Playwright will connect, then tells it so in Firefox's own words. */
function relay(upstream, line) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  server.on('listening', () => {
    const { port } = server.address();
    process.stderr.write(line.replace(upstream, `ws://127.0.0.1:${port}`));
  });
  server.on('connection', (driver, req) => {
    const browser = new WebSocket(upstream.replace(/\/$/, '') + (req.url ?? ''), { perMessageDeflate: false });
    const queued = [];
    browser.on('open', () => {
      for (const m of queued.splice(0)) browser.send(m);
    });
    browser.on('message', (data) => driver.send(data.toString()));
    browser.on('close', () => driver.close());
    browser.on('error', () => driver.close());
    driver.on('close', () => browser.close());
    driver.on('message', (data) => {
      const text = data.toString();
      const id = answeredHere(text);
      if (id !== undefined) return void driver.send(JSON.stringify({ type: 'success', id, result: {} }));
      if (browser.readyState === WebSocket.OPEN) browser.send(text);
      else queued.push(text);
    });
  });
}

/** The command's id when it is one answered here, else undefined. */
function answeredHere(text) {
  if (!text.includes('"emulation.')) return undefined;
  try {
    const msg = JSON.parse(text);
    return ANSWERED_HERE.has(msg.method) ? msg.id : undefined;
  } catch {
    return undefined;
  }
}
