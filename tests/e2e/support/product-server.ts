/**
 * Servers of a test's own, for settings the suite's shared servers do not have (a TURN relay,
 * relay-only mode, Redis, pages apart from signaling). `startProductServer` runs the same
 * `node tests/e2e/support/serve.mjs` as playwright.config.ts's web servers (what `npm start` does) on
 * a free port, with extra environment; it serves the build the main web server made and never
 * builds itself (JOINUS_E2E_NO_BUILD). `startPagesOnly` serves that build with `next start` alone,
 * `startSignalingOnly` runs `npm run signaling`'s entry point. Each waits until it answers;
 * `restart()` starts it again on the same port, `stop()` ends it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { serverArgs } from '../../../scripts/server-bundle.mjs';
import { freePort } from '../../support/ports';
import { agentsEnv, GRACE_MS } from './env';

const root = new URL('../../..', import.meta.url).pathname;
const START_TIMEOUT_MS = 90_000;
/** Where serve.mjs builds the pages for the browser tests. */
const TEST_BUILD = 'test-results/next-build';

export interface ProductServer {
  origin: string;
  port: number;
  /** Stop (SIGTERM) and start again on the same port with the same settings. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const baseEnv = (port: number): Record<string, string> => ({
  NODE_ENV: 'production',
  NEXT_TELEMETRY_DISABLED: '1',
  HOST: '127.0.0.1',
  PORT: String(port),
  JOINUS_AGENTS: agentsEnv,
  JOINUS_GRACE_MS: String(GRACE_MS),
  LOG_LEVEL: 'warn',
  JOINUS_E2E_NO_BUILD: '1',
});

/** A process on `port`, ready once GET `readyPath` answers 200. */
async function startProcess(args: string[], env: Record<string, string>, readyPath: string, port?: number): Promise<ProductServer> {
  const at = port ?? (await freePort());
  const origin = `http://127.0.0.1:${at}`;
  let child: ChildProcess;
  let exited: Promise<void>;
  const output: string[] = [];
  const launch = async () => {
    output.length = 0;
    child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...baseEnv(at), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
    exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited (${child.exitCode}):\n${output.join('')}`);
      try {
        if ((await fetch(origin + readyPath)).ok) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`${args.join(' ')} did not answer within ${START_TIMEOUT_MS} ms:\n${output.join('')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  await launch();
  return {
    origin,
    port: at,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
  };
}

/** Pages and signaling in one process, as `npm start` runs them. */
export function startProductServer(env: Record<string, string>, port?: number): Promise<ProductServer> {
  return startProcess([`${root}tests/e2e/support/serve.mjs`], env, '/', port);
}

/** The pages alone, served by `next start` from the browser tests' build. */
export async function startPagesOnly(env: Record<string, string>, port?: number): Promise<ProductServer> {
  const at = port ?? (await freePort());
  return startProcess(
    [`${root}node_modules/next/dist/bin/next`, 'start', '-H', '127.0.0.1', '-p', String(at)],
    { JOINUS_NEXT_DIST_DIR: TEST_BUILD, ...env },
    '/',
    at,
  );
}

/** A signaling node alone (`npm run signaling`). */
export async function startSignalingOnly(env: Record<string, string>, port?: number): Promise<ProductServer> {
  return startProcess(await serverArgs(root, 'signaling'), env, '/healthz', port);
}
