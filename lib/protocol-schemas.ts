/**
 * The payload schemas of the protocol (zod): the signaling server validates every inbound payload
 * with them at its edge (signaling/server.ts). Kept apart from `./protocol`, which the pages import
 * for its constants and types, so that zod is loaded only where something is parsed with it
 * (issue 11: zod was in every page). The types derived here are re-exported by `./protocol`.
 */
import * as z from './zod';
import { Limits, PROOF_ALGORITHM, PROOF_COST, PUBLIC_KEY_PATTERN } from './protocol';

const hex = (max: number) => z.string().min(1).max(max).regex(/^[0-9a-f]+$/, 'not hex');
/** What the server hands out; what comes back is checked against its own signature, never trusted. */
const proofChallengeSchema = z
  .object({
    parameters: z
      .object({
        algorithm: z.literal(PROOF_ALGORITHM),
        nonce: hex(64),
        salt: hex(64),
        cost: z.literal(PROOF_COST),
        keyLength: z.number().int().min(16).max(64),
        keyPrefix: hex(128),
        keySignature: z.string().max(256).optional(),
        expiresAt: z.number().int().positive(),
      })
      .strict(),
    signature: z.string().min(1).max(256),
  })
  .strict();
export type ProofChallenge = z.infer<typeof proofChallengeSchema>;
const proofSchema = z
  .object({
    challenge: proofChallengeSchema,
    solution: z
      .object({ counter: z.number().int().min(0).max(2 ** 32 - 1), derivedKey: hex(128), time: z.number().optional() })
      .strict(),
  })
  .strict();
export type Proof = z.infer<typeof proofSchema>;

const id = z.string().min(8).max(64).regex(/^[A-Za-z0-9_-]+$/, 'malformed id');
const token = z.string().min(16).max(Limits.tokenChars).regex(/^[A-Za-z0-9_-]+$/, 'malformed token');
const personName = z
  .string()
  .trim()
  .min(1, 'Enter your name.')
  .max(Limits.nameChars, `A name can have at most ${Limits.nameChars} characters.`);

export const Schemas = {
  'agent:signIn': z.object({
    username: z.string().trim().min(1, 'Enter your username.').max(64),
    password: z.string().min(1, 'Enter your password.').max(Limits.passwordChars),
    proof: proofSchema.optional(),
  }),
  'agent:resume': z.object({ token }),
  'agent:signOut': z.object({}),
  'queue:accept': z.object({ requestId: id }),
  /** The first `limit` waiting customers, with the count and the version they are as of (agents). */
  'queue:list': z.object({ limit: z.number().int().min(1).max(Limits.queuePage) }),
  'customer:request': z.object({
    name: personName,
    topic: z.string().trim().max(Limits.topicChars, `Keep it under ${Limits.topicChars} characters.`),
  }),
  'customer:resume': z.object({ requestToken: token }),
  'customer:cancel': z.object({ requestToken: token }),
  'handle:reserve': z.object({ sessionId: id, handle: z.string().max(Limits.handleInputChars, 'A handle can have at most 32 characters.') }),
  'handle:suggest': z.object({ sessionId: id }),
  'handle:cancel': z.object({ sessionId: id, handle: z.string().max(Limits.handleInputChars) }),
  'handle:login': z.object({
    name: personName,
    handle: z.string().max(Limits.handleInputChars),
    proof: proofSchema.optional(),
    /**
     * The tab's public key, made before the handle was sent: with it, a party admitted at once is
     * attached in the same round trip (the answer's `attached`), as `session:attach` would.
     */
    publicKey: z.string().regex(PUBLIC_KEY_PATTERN, 'Not a public key.').optional(),
  }),
  'session:attach': z.object({
    credential: token,
    /** The tab's public key (decision 0010): the server vouches for it in the session's directory. */
    publicKey: z.string().regex(PUBLIC_KEY_PATTERN, 'Not a public key.').optional(),
    /** The peer id this tab held before its socket dropped: taken back if it is the participant's own. */
    peerId: id.optional(),
  }),
  'session:detach': z.object({ sessionId: id }),
  'session:end': z.object({ sessionId: id }),
  'session:leave': z.object({ sessionId: id }),
  'participant:remove': z.object({ sessionId: id, participantId: id }),
  /** Admission lobby (agent): "Ask before admitting" on or off for this session. */
  'lobby:set': z.object({ sessionId: id, enabled: z.boolean() }),
  /** Admission lobby (agent): let a waiting party in, or not. */
  'lobby:decide': z.object({ sessionId: id, participantId: id, admit: z.boolean() }),
  /** Admission lobby (waiting party): where do I stand? Also subscribes this connection to the answer. */
  'lobby:wait': z.object({ credential: token }),
  /** C3: may the page be shown in a frame? Agents only; the server asks the site (signaling/frame-check.ts). */
  'page:check': z.object({ sessionId: id, url: z.string().min(1).max(2048) }),
  'signal:send': z.object({
    sessionId: id,
    to: id,
    // simple-peer's signal objects: offer/answer SDP, ICE candidates, renegotiation requests.
    data: z.record(z.string(), z.unknown()),
  }),
} as const;

export type ClientEvent = keyof typeof Schemas;
export type Payload<E extends ClientEvent> = z.input<(typeof Schemas)[E]>;
export type Parsed<E extends ClientEvent> = z.output<(typeof Schemas)[E]>;
