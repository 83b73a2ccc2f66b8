/**
 * Short-lived TURN credentials in the REST form coturn checks with `use-auth-secret` /
 * `static-auth-secret` (draft-uberti-behave-turn-rest): the username is `expiry:participantId`, the
 * password is base64(HMAC-SHA1(secret, username)). Only the signaling server knows the secret, and it
 * hands a credential to admitted participants only (with their admission), so nobody else can use the
 * relay, and a credential that leaks is dead once it expires.
 */
import { createHmac } from 'node:crypto';
import type { IceServer } from '../../lib/protocol';

export interface TurnConfig {
  /** `turn:` / `turns:` URLs of the relay (coturn). */
  urls: string[];
  /** coturn's `static-auth-secret`. */
  secret: string;
  /** How long a credential lasts. @default 14_400_000 (4 hours) */
  ttlMs: number;
}

export function turnCredential(turn: TurnConfig, participantId: string, nowMs: number): IceServer & { username: string; credential: string } {
  const expiresAtSeconds = Math.floor((nowMs + turn.ttlMs) / 1000);
  const username = `${expiresAtSeconds}:${participantId}`;
  const credential = createHmac('sha1', turn.secret).update(username).digest('base64');
  return { urls: [...turn.urls], username, credential };
}
