/**
 * What the browser tests and playwright.config.ts agree on: the ports of the servers under test and
 * the agent accounts they are started with. Imported by the config (main process) and by the tests
 * (worker processes); the ports travel from one to the other through the environment.
 */

/**
 * One agent account per test (or per agent of a test), so tests that run side by side never see
 * each other's sessions in "Your sessions". Agent names appear in transcripts, so they read as names.
 */
export const AGENTS = [
  'ava', // join-us-flow: the whole Join Us flow
  'ben', // join-us-flow: H2/H4, the session that holds the handle
  'cleo', // join-us-flow: H2/H4, the other session's agent
  'dan', // sessions: S3 joined party reloads
  'eve', // sessions: S3 customer and agent reload
  'finn', // sessions: S4 grace
  'gus', // sessions: S5 leave and remove
  'hana', // agent-console: S1 first agent
  'ivan', // agent-console: S1 second agent
  'jo', // agent-console: S6
  'pat', // agent-console: S1 queue positions
  'kim', // agent-console: sign-in
  'lea', // handles: H1
  'max', // handles: H8 uniform message
  'nia', // handles: H5 expiry (short-TTL server)
  'oli', // screens
  'quinn', // peer-network: C9 two joined parties that cannot connect directly
  'rosa', // peer-network: S3 signaling drops and comes back
  'sam', // peer-network: C9 offline and back
  'tara', // turn: relay-only mode through coturn
  'uma', // turn: a relay that refuses
  'vic', // page-push: C3 pushes, follow, late joiner, history
  'wes', // forms: C4 shared forms, masking, submit to the operator's endpoint
  'xena', // drawing: C5 strokes, pointers, undo, clear
  'yara', // large-session: a late joiner to a 5 MB session
  'zack', // handles: H8 proof of work past the limit
  'abe', // security: hostile text shown as text
  'bea', // lobby: ask before admitting, invite link
  'cy', // privacy: local copies removed
  'dee', // hostile-peer: raw frames from a modified page
  'eli', // media: C7 voice among three
  'fay', // media: C8 screen sharing
  'gil', // media: C7 no microphone, refused
  'hal', // turn: voice and screen through the relay
  'ida', // queue: a long queue, first agent
  'jay', // queue: a long queue, second agent
  'kai', // browsers: a customer and a joined party on Firefox
  'lou', // browsers: voice between Chromium and Firefox
  'mia', // browsers: page push and shared forms on Firefox
] as const;
export type AgentName = (typeof AGENTS)[number];

export const agentPassword = (name: string) => `${name}-e2e-secret`;

/** JOINUS_AGENTS for the servers under test. */
export const agentsEnv = AGENTS.map((n) => `${n}:${agentPassword(n)}`).join(',');

/** S4: short enough that a drop is seen within seconds, long enough for a reload under load. */
export const GRACE_MS = 8000;

/** H5 in the browser runs on a second server whose reservations expire this quickly. */
export const SHORT_HANDLE_TTL_MS = 4000;

export const PORT_ENV = 'JOINUS_E2E_PORT';
export const AUX_PORT_ENV = 'JOINUS_E2E_AUX_PORT';

function port(name: string): number {
  const raw = process.env[name];
  if (!raw) throw new Error(`${name} is not set: run the browser tests through playwright.config.ts.`);
  return Number(raw);
}

/** The main server (default grace, default handle TTL). */
export const mainPort = () => port(PORT_ENV);
/** The second server, with SHORT_HANDLE_TTL_MS. */
export const auxPort = () => port(AUX_PORT_ENV);
