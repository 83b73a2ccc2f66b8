/** Configuration from the environment, validated once at start-up (README "Configuration"). */
import { z } from 'zod';
import type { IceServer, IceTransportPolicy } from '../lib/protocol';
import { defaultCoreConfig } from './core/core';
import type { TurnConfig } from './core/turn';
import { readFileSync } from 'node:fs';
import { builtInForms } from '../features/forms/catalog';
import { catalogSchema, mergeCatalog, type FormDefinition } from '../features/forms/schema';
import { looksHashed, parseScryptHash } from './core/passwords';
import { checkTrustList, type TrustProxy } from './edge';
import { defaultJoinRateLimits } from './guards';

/** How long a participant's TURN credential lasts unless JOINUS_TURN_TTL_MS says otherwise. */
export const DEFAULT_TURN_TTL_MS = 4 * 60 * 60_000;

const positiveMs = (fallback: number) =>
  z.coerce.number().int().positive().max(7 * 24 * 60 * 60_000).default(fallback);

const iceServer = z
  .object({
    urls: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    username: z.string().optional(),
    credential: z.string().optional(),
  })
  .strict();

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  JOINUS_AGENTS: z.string().optional(),
  JOINUS_AGENTS_FILE: z.string().optional(),
  JOINUS_HANDLE_TTL_MS: positiveMs(defaultCoreConfig.handleTtlMs),
  JOINUS_GRACE_MS: positiveMs(defaultCoreConfig.graceMs),
  JOINUS_NODE_LEASE_MS: z.coerce.number().int().min(300).max(5 * 60_000).default(defaultCoreConfig.nodeLeaseMs),
  JOINUS_ICE_SERVERS: z.string().optional(),
  JOINUS_TURN_URLS: z.string().optional(),
  JOINUS_TURN_SECRET: z.string().optional(),
  JOINUS_TURN_TTL_MS: z.coerce.number().int().min(60_000).max(7 * 24 * 60 * 60_000).default(DEFAULT_TURN_TTL_MS),
  JOINUS_ICE_TRANSPORT_POLICY: z.enum(['all', 'relay']).default('all'),
  JOINUS_FRAME_CHECK: z.enum(['on', 'off']).default('on'),
  JOINUS_FORMS_FILE: z.string().optional(),
  JOINUS_TRUST_PROXY: z.string().optional(),
  JOINUS_ALLOWED_ORIGINS: z.string().optional(),
  JOINUS_HELP_EMBED_ORIGINS: z.string().optional(),
  JOINUS_LOBBY: z.enum(['on', 'off']).default('off'),
  JOINUS_POW_STEPS: z.coerce.number().int().min(1).max(1_000_000).default(defaultJoinRateLimits.proofSteps),
  REDIS_URL: z
    .string()
    .optional()
    .refine((v) => v === undefined || /^rediss?:\/\/[^\s]+$/.test(v), 'must be a redis:// or rediss:// URL'),
  /** Names this deployment's keys and channels in Redis (several deployments may share one Redis). */
  JOINUS_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "." or "-", at most 64')
    .default('joinus'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface AppConfig {
  port: number;
  host: string;
  agents: Map<string, string>;
  /** True when neither JOINUS_AGENTS nor JOINUS_AGENTS_FILE is set and the demo account agent/agent is in use. */
  demoAgent: boolean;
  /** Accounts whose password JOINUS_AGENTS or JOINUS_AGENTS_FILE gives in clear (start-up warns about each). */
  plaintextAgents: string[];
  /** How far X-Forwarded-For is believed (JOINUS_TRUST_PROXY). */
  trustProxy: TrustProxy;
  /** Page origins besides the server's own that may open a signaling connection. */
  allowedOrigins: string[];
  /** Sites allowed to show the help page in a frame (CSP frame-ancestors); none by default. */
  helpEmbedOrigins: string[];
  /** H8: mean steps of the proof of work asked for once failures pile up. */
  proofSteps: number;
  /** "Ask before admitting" in new sessions. */
  lobby: boolean;
  handleTtlMs: number;
  graceMs: number;
  /** With Redis: how long a node's hold on its connections lasts unless renewed (JOINUS_NODE_LEASE_MS). */
  nodeLeaseMs: number;
  iceServers: IceServer[];
  /** A TURN relay with per-participant credentials (JOINUS_TURN_URLS + JOINUS_TURN_SECRET), or null. */
  turn: TurnConfig | null;
  iceTransportPolicy: IceTransportPolicy;
  /** C3: the server asks a pushed page's site whether it may be framed. */
  frameCheck: boolean;
  /** C4: the built-in forms with the operator's (JOINUS_FORMS_FILE) over them. */
  forms: FormDefinition[];
  redisUrl: string | null;
  /** JOINUS_REDIS_PREFIX: the deployment's key prefix in Redis. */
  redisPrefix: string;
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
}

export class ConfigError extends Error {}

/** A configuration read, or a clear message on stderr and exit code 2. */
export function orExit<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Configuration error: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
}

const AGENT_NAME = /^[A-Za-z0-9._@-]{1,64}$/;
const NOT_A_PAIR = 'not a name:password pair (names: letters, digits, . _ @ -; passwords not empty)';

/**
 * One `name:password` entry of JOINUS_AGENTS or a line of JOINUS_AGENTS_FILE, checked; what is wrong
 * with it otherwise, in words that never echo the entry (it may hold a password).
 */
function parseAgentEntry(entry: string): { name: string; password: string } | { problem: 'pair' | 'hash'; text: string } {
  const at = entry.indexOf(':');
  const name = at > 0 ? entry.slice(0, at).trim() : '';
  const password = at > 0 ? entry.slice(at + 1) : '';
  if (!AGENT_NAME.test(name) || password.length === 0) return { problem: 'pair', text: NOT_A_PAIR };
  if (looksHashed(password) && !parseScryptHash(password)) {
    return {
      problem: 'hash',
      text: `the password of "${name}" starts like a hash (scrypt$…) but is not one; make it with npm run hash-password`,
    };
  }
  return { name, password };
}

/** `name:password` pairs separated by commas; a password may itself contain colons. */
export function parseAgents(raw: string): Map<string, string> {
  const agents = new Map<string, string>();
  for (const pair of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const entry = parseAgentEntry(pair);
    if ('problem' in entry) {
      throw new ConfigError(
        entry.problem === 'pair' ? `JOINUS_AGENTS: entry ${agents.size + 1} is ${entry.text}.` : `JOINUS_AGENTS: ${entry.text}.`,
      );
    }
    agents.set(entry.name, entry.password);
  }
  if (agents.size === 0) throw new ConfigError('JOINUS_AGENTS is set but names no agent.');
  return agents;
}

/**
 * The text of JOINUS_AGENTS_FILE: one `name:password` (or `name:scrypt$…`) per line, surrounding
 * whitespace trimmed, blank lines and lines starting with `#` skipped. Each name once.
 */
export function parseAgentsFile(text: string, path: string): Map<string, string> {
  const agents = new Map<string, string>();
  const lineOf = new Map<string, number>();
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim(); // also drops a \r (CRLF files) and a byte-order mark
    if (line === '' || line.startsWith('#')) continue;
    const entry = parseAgentEntry(line);
    if ('problem' in entry) throw new ConfigError(`JOINUS_AGENTS_FILE line ${i + 1}: ${entry.text}.`);
    const first = lineOf.get(entry.name);
    if (first !== undefined) {
      throw new ConfigError(`JOINUS_AGENTS_FILE line ${i + 1}: "${entry.name}" is already on line ${first} (one line per agent).`);
    }
    lineOf.set(entry.name, i + 1);
    agents.set(entry.name, entry.password);
  }
  if (agents.size === 0) {
    throw new ConfigError(`JOINUS_AGENTS_FILE: ${path} names no agent (one name:password per line; # starts a comment).`);
  }
  return agents;
}

/** Start-up only: the accounts file is read once, synchronously, like JOINUS_FORMS_FILE. */
function readAgentsFile(path: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`JOINUS_AGENTS_FILE: cannot read ${path} (${err instanceof Error ? err.message : String(err)}).`);
  }
  return parseAgentsFile(text, path);
}

/** The agent accounts from JOINUS_AGENTS or JOINUS_AGENTS_FILE (one source), or null for neither. */
function loadAgents(inline: string | undefined, file: string | undefined): Map<string, string> | null {
  if (inline && file) {
    throw new ConfigError(
      'JOINUS_AGENTS and JOINUS_AGENTS_FILE are both set: give the agent accounts in one of them only (unset the other).',
    );
  }
  if (file) return readAgentsFile(file);
  if (inline) return parseAgents(inline);
  return null;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${issue.path.join('.')}: ${issue.message}`);
  }
  const e = parsed.data;
  let iceServers: IceServer[] = [];
  if (e.JOINUS_ICE_SERVERS) {
    let json: unknown;
    try {
      json = JSON.parse(e.JOINUS_ICE_SERVERS);
    } catch {
      throw new ConfigError('JOINUS_ICE_SERVERS is not valid JSON (expected a list like [{"urls":"stun:host:3478"}]).');
    }
    const list = z.array(iceServer).max(16).safeParse(json);
    if (!list.success) throw new ConfigError(`JOINUS_ICE_SERVERS: ${list.error.issues[0]!.message}`);
    iceServers = list.data;
  }
  const turn = parseTurn(e.JOINUS_TURN_URLS, e.JOINUS_TURN_SECRET, e.JOINUS_TURN_TTL_MS);
  if (e.JOINUS_ICE_TRANSPORT_POLICY === 'relay' && !turn && !iceServers.some(isTurnWithCredentials)) {
    throw new ConfigError(
      'JOINUS_ICE_TRANSPORT_POLICY=relay needs a TURN server: set JOINUS_TURN_URLS and JOINUS_TURN_SECRET ' +
        '(or a turn: entry with username and credential in JOINUS_ICE_SERVERS).',
    );
  }
  const configured = loadAgents(e.JOINUS_AGENTS, e.JOINUS_AGENTS_FILE);
  const demoAgent = configured === null;
  const agents = configured ?? new Map([['agent', 'agent']]);
  return {
    port: e.PORT,
    host: e.HOST,
    agents,
    demoAgent,
    plaintextAgents: demoAgent ? [] : [...agents].filter(([, pw]) => !looksHashed(pw)).map(([name]) => name),
    trustProxy: parseTrustProxy(e.JOINUS_TRUST_PROXY),
    allowedOrigins: parseOrigins(e.JOINUS_ALLOWED_ORIGINS, 'JOINUS_ALLOWED_ORIGINS'),
    helpEmbedOrigins: parseOrigins(e.JOINUS_HELP_EMBED_ORIGINS, 'JOINUS_HELP_EMBED_ORIGINS'),
    proofSteps: e.JOINUS_POW_STEPS,
    lobby: e.JOINUS_LOBBY === 'on',
    handleTtlMs: e.JOINUS_HANDLE_TTL_MS,
    graceMs: e.JOINUS_GRACE_MS,
    nodeLeaseMs: e.JOINUS_NODE_LEASE_MS,
    iceServers,
    turn,
    iceTransportPolicy: e.JOINUS_ICE_TRANSPORT_POLICY,
    frameCheck: e.JOINUS_FRAME_CHECK === 'on',
    forms: mergeCatalog(builtInForms, e.JOINUS_FORMS_FILE ? readForms(e.JOINUS_FORMS_FILE) : []),
    redisUrl: e.REDIS_URL ?? null,
    redisPrefix: e.JOINUS_REDIS_PREFIX,
    logLevel: e.LOG_LEVEL,
  };
}

/** A number of proxy hops, or addresses and subnets of trusted proxies (comma separated). */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  const value = (raw ?? '').trim();
  if (value === '' || value === 'false' || value === 'off') return null;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > 16) throw new ConfigError('JOINUS_TRUST_PROXY: at most 16 proxy hops.');
    return hops === 0 ? null : hops;
  }
  const list = value.split(',').map((a) => a.trim()).filter(Boolean);
  try {
    checkTrustList(list);
  } catch (err) {
    throw new ConfigError(
      `JOINUS_TRUST_PROXY: ${err instanceof Error ? err.message : String(err)} (give a number of hops, or addresses and subnets like 10.0.0.0/8, loopback).`,
    );
  }
  return list;
}

/** A comma-separated list of origins (scheme://host[:port]), each checked. */
export function parseOrigins(raw: string | undefined, setting: string): string[] {
  const list = (raw ?? '').split(',').map((o) => o.trim()).filter(Boolean);
  return list.map((o, i) => {
    let url: URL | null = null;
    try {
      url = new URL(o);
    } catch {
      url = null;
    }
    if (!url || !/^https?:$/.test(url.protocol) || url.origin !== o.replace(/\/$/, '')) {
      throw new ConfigError(`${setting}: entry ${i + 1} is not an origin like https://pages.example.com (no path).`);
    }
    return url.origin;
  });
}

const isTurnUrl = (u: string) => /^turns?:/i.test(u);

function isTurnWithCredentials(server: IceServer): boolean {
  const urls = Array.isArray(server.urls) ? server.urls : [server.urls];
  return urls.some(isTurnUrl) && !!server.username && !!server.credential;
}

/** JOINUS_TURN_URLS (comma separated) and JOINUS_TURN_SECRET come together or not at all. */
export function parseTurn(rawUrls: string | undefined, secret: string | undefined, ttlMs: number): TurnConfig | null {
  const urls = (rawUrls ?? '').split(',').map((u) => u.trim()).filter(Boolean);
  if (urls.length === 0 && !secret) return null;
  if (urls.length === 0) throw new ConfigError('JOINUS_TURN_SECRET is set but JOINUS_TURN_URLS is not: name the TURN server (turn:host:3478).');
  if (!secret) {
    throw new ConfigError("JOINUS_TURN_URLS is set but JOINUS_TURN_SECRET is not: give coturn's static-auth-secret.");
  }
  if (urls.length > 8) throw new ConfigError('JOINUS_TURN_URLS: at most 8 URLs.');
  for (const [i, url] of urls.entries()) {
    // turn:host[:port][?transport=udp|tcp] (RFC 7065); no credentials in the URL.
    if (!/^turns?:[^\s@/?#]+(\?transport=(udp|tcp))?$/i.test(url)) {
      throw new ConfigError(`JOINUS_TURN_URLS: URL ${i + 1} is not a turn: or turns: URL (like turn:turn.example.com:3478).`);
    }
  }
  return { urls, secret, ttlMs };
}

/** C4: the operator's forms, a JSON list of form definitions (README "Shared forms"). */
function readForms(path: string): FormDefinition[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`JOINUS_FORMS_FILE: cannot read ${path} as JSON (${err instanceof Error ? err.message : String(err)}).`);
  }
  const parsed = catalogSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`JOINUS_FORMS_FILE: ${issue.path.join('.') || 'the list'}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * What the pages need (the process that serves them: `npm start`, or `next start` alone when the
 * signaling nodes run elsewhere). Read by proxy.ts and the root layout through the environment.
 */
export interface PagesConfig {
  /** JOINUS_SIGNALING_URL: where the pages' socket.io connection goes; null = the pages' own origin. */
  signalingUrl: string | null;
  helpEmbedOrigins: string[];
  /** Origins that C4 forms submit to (from JOINUS_FORMS_FILE), allowed in the pages' connect-src. */
  formEndpointOrigins: string[];
}

export function loadPagesConfig(env: NodeJS.ProcessEnv = process.env): PagesConfig {
  const signaling = parseOrigins(env.JOINUS_SIGNALING_URL, 'JOINUS_SIGNALING_URL');
  if (signaling.length > 1) throw new ConfigError('JOINUS_SIGNALING_URL: one origin (the signaling nodes behind their load balancer).');
  const forms = mergeCatalog(builtInForms, env.JOINUS_FORMS_FILE ? readForms(env.JOINUS_FORMS_FILE) : []);
  return {
    signalingUrl: signaling[0] ?? null,
    helpEmbedOrigins: parseOrigins(env.JOINUS_HELP_EMBED_ORIGINS, 'JOINUS_HELP_EMBED_ORIGINS'),
    formEndpointOrigins: [...new Set(forms.flatMap((f) => (f.submitTo ? [new URL(f.submitTo).origin] : [])))],
  };
}

/** The pages' configuration as the environment proxy.ts and the layout read (validated, normalised). */
export function pagesEnvironment(c: PagesConfig): Record<string, string> {
  return {
    JOINUS_SIGNALING_URL: c.signalingUrl ?? '',
    JOINUS_HELP_EMBED_ORIGINS: c.helpEmbedOrigins.join(','),
    JOINUS_FORM_ENDPOINT_ORIGINS: c.formEndpointOrigins.join(','),
  };
}
