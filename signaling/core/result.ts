import { ErrorReason, type ProtocolError } from '../../lib/protocol';

export type Result<T> = { ok: true; value: T } | { ok: false; error: ProtocolError };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = (reason: ErrorReason, message: string, retryAfterMs?: number): { ok: false; error: ProtocolError } => ({
  ok: false,
  error: retryAfterMs === undefined ? { reason, message } : { reason, message, retryAfterMs },
});

export const Refusals = {
  notSignedIn: () => fail(ErrorReason.unauthorized, 'You are not signed in. Sign in again.'),
  notYourSession: () => fail(ErrorReason.forbidden, 'Only the agent of this session can do that.'),
  credentialUnknown: () =>
    fail(ErrorReason.unauthorized, 'This session link is not valid. Ask the agent for a new handle.'),
  sessionEnded: () => fail(ErrorReason.sessionEnded, 'The session has ended. You can still download its transcript.'),
  removed: () => fail(ErrorReason.removed, 'The agent removed you from the session.'),
  left: () => fail(ErrorReason.left, 'You left this session. To come back, ask the agent for a new handle.'),
  notAttached: () => fail(ErrorReason.forbidden, 'Join the session first.'),
  waiting: () => fail(ErrorReason.waiting, 'Waiting for the agent to let you in.'),
  declined: () => fail(ErrorReason.declined, 'The agent did not let you in. The handle cannot be used again.'),
} as const;
