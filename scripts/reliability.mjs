#!/usr/bin/env node
// `npm run test:reliability`: the long variant of tests/integration/reliability.test.ts (fuzzing,
// guessing, concurrent session life cycles), then the figures as one table.
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
  ['three-party sessions started', f.sessions],
  ['  completed', f.sessionsCompleted],
  ['  failed (must be 0)', f.sessionErrors],
  ['  items lost (must be 0)', f.itemsLost],
  ['  wall time', f.sessionsWallMs === undefined ? undefined : `${(f.sessionsWallMs / 1000).toFixed(1)} s`],
];
const width = Math.max(...rows.map(([k]) => k.length));
console.log(`\nReliability (${f.variant ?? '?'} variant)\n`);
for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v ?? '—'}`);
process.exit(r.status ?? 1);
