#!/usr/bin/env node
// `npm run test:reliability`: the long variant of tests/integration/reliability.test.ts (fuzzing,
// guessing, concurrent session life cycles, the queue at scale), then the figures as one table.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

const file = 'test-results/reliability.json';
rmSync(file, { force: true });
const r = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'tests/integration/reliability.test.ts'], {
  stdio: 'inherit',
  env: { ...process.env, JOINUS_RELIABILITY: process.env.JOINUS_RELIABILITY ?? 'long' },
});
let f = {};
try {
  f = JSON.parse(readFileSync(file, 'utf8'));
} catch {
  console.error('No figures were written.');
}
const rows = [
  ['handle log-in attempts (40 addresses)', f.guessAttempts],
  ['  tried (handle checked)', f.guessesTried],
  ['  refused before trying: proof of work asked', f.proofsAsked],
  ['  proofs solved by the guessers', f.proofsSolved],
  ['  wrongly admitted (must be 0)', f.wronglyAdmitted],
  ['  honest party admitted', f.honestAdmitted === undefined ? undefined : f.honestAdmitted ? `yes, after ${f.honestProofs} proof(s)` : 'NO'],
  ['frames fuzzed', f.framesFuzzed],
  ['  answered with an ack', f.framesAnswered],
  ['  crashes / errors logged (must be 0)', f.crashes],
];
for (const lc of Object.values(f.lifeCycles ?? {})) {
  rows.push(
    [`${lc.sessions} concurrent three-party life cycles`, `${lc.completed} completed in ${(lc.wallMs / 1000).toFixed(1)} s`],
    ['  failed (must be 0)', lc.errors],
    ['  items lost (must be 0)', lc.itemsLost],
  );
}
const q = f.queue;
if (q) {
  const ms = (s) => (s && s.n ? `median ${s.median} ms, p90 ${s.p90}, p99 ${s.p99}, max ${s.max} (n ${s.n})` : '—');
  const threads = [q.threads.driver, ...q.threads.workers]
    .map((t) => `${Math.round((t.eventLoopUtilization ?? 0) * 100)}% busy, lag p99 ${t.eventLoopDelayMs?.p99} ms`)
    .join('; ');
  rows.push(
    [`queue at scale: ${q.agents} consoles, ${q.waiting} waiting`, `${q.changes.made} changes at ${q.changes.perSecond}/s for ${q.durationMs / 1000} s`],
    ['  set-up (customers ask, consoles sign in)', `${(q.setupMs / 1000).toFixed(1)} s`],
    ['  console latency, change made → console has it', ms(q.agentLatencyMs)],
    ['  changes missed by a console (must be 0)', q.agentCheck.missed],
    ['  out of order / version gaps (must be 0)', `${q.agentCheck.outOfOrder} / ${q.agentCheck.gaps}`],
    ['  consoles with a wrong final count / first entries (must be 0)', `${q.agentCheck.wrongFinalCount} / ${q.agentCheck.wrongWindow}`],
    ['  consoles asking for more: asked / failed / disagreed (must be 0 / 0 / 0)', `${q.agentCheck.fetches} / ${q.agentCheck.fetchErrors} / ${q.agentCheck.fetchMismatches}`],
    [
      '  customer: position updates a second, most',
      `${q.customer.maxMeanUpdatesPerSecond} over the window, ${q.customer.maxUpdatesPerSecond} in any 1 s of receipt times`,
    ],
    ['  customer: update delay, taken → told', ms(q.customer.delayMs)],
    ['  customer: wrong positions told / at the end (must be 0)', `${q.customer.wrongUpdates} / ${q.customer.finalWrong} of ${q.customer.finalChecked}`],
    ['  driver: change acknowledged', ms(q.changes.ackMs)],
    ['  client threads (driver; workers)', threads],
    ['  server errors logged (must be 0)', q.serverErrors],
  );
}
const width = Math.max(...rows.map(([k]) => k.length));
console.log(`\nReliability (${f.variant ?? '?'} variant)\n`);
for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v ?? '—'}`);
process.exit(r.status ?? 1);
