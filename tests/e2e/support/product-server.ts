/**
 * A product server of a test's own, for settings the suite's shared servers do not have (a TURN
 * relay, relay-only mode): the same `node tests/e2e/support/serve.mjs` as playwright.config.ts's
 * web servers, on a free port, with extra environment. It serves the build the main web server made
 * and never builds itself (JOINUS_E2E_NO_BUILD). Waits until the landing page answers; `stop()` ends
 * the process.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { agentsEnv, GRACE_MS } from './env';

const root = new URL('../../..', import.meta.url).pathname;
const START_TIMEOUT_MS = 90_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ProductServer {
  origin: string;
  stop(): Promise<void>;
}

export async function startProductServer(env: Record<string, string>): Promise<ProductServer> {
  const port = await freePort();
  const output: string[] = [];
  const child = spawn(process.execPath, [`${root}tests/e2e/support/serve.mjs`], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      NEXT_TELEMETRY_DISABLED: '1',
      HOST: '127.0.0.1',
      PORT: String(port),
      JOINUS_AGENTS: agentsEnv,
      JOINUS_GRACE_MS: String(GRACE_MS),
      LOG_LEVEL: 'warn',
      JOINUS_E2E_NO_BUILD: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the product server exited (${child.exitCode}):\n${output.join('')}`);
    try {
      if ((await fetch(origin)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the product server did not answer within ${START_TIMEOUT_MS} ms:\n${output.join('')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    origin,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
