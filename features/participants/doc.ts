/**
 * C2: who is in the session and who is here now. Who is in it comes from the signaling server (the
 * directory it gives every participant: lib/collab/authorship.ts), never from the document, so no
 * peer can add, rename or remove anyone. Who is here now is each peer's awareness state, which names
 * its participant with a signature over its Yjs client id: a state claiming another participant is
 * ignored.
 */
import * as z from '../../lib/zod';
import { type Role } from '../../lib/protocol';
import type { Authorship, DirectoryEntry } from '../../lib/collab/authorship';
import { oncePerObject } from '../../lib/collab/once-per-object';

export const roleSchema = z.enum(['agent', 'customer', 'guest']);
/** Milliseconds that `new Date()` can format: a hostile peer's 1e300 must not crash every page. */
export const timestamp = z.number().int().min(0).max(8.64e15);

export type ParticipantInfo = Omit<DirectoryEntry, 'keys'>;

/** Who a writer is: the participant the server admitted (name and role from the server). */
export interface Author {
  participantId: string;
  name: string;
  role: Role;
}

/** The directory's entries as the participant list shows them (keys are for checking signatures only). */
export const withoutKeys = (entries: readonly DirectoryEntry[]): ParticipantInfo[] => entries.map(({ keys: _keys, ...p }) => p);

const presenceClaim = z.object({
  participantId: z.string().max(64),
  presenceSig: z.string().max(100),
});

/** What a tab signs to say that its awareness state (its Yjs client id) is its participant's. */
export const presencePayload = (clientId: number) => ['presence', clientId] as const;

export interface VerifiedPresence extends Author {
  clientId: number;
  /** The whole awareness state, for a feature's own fields (validated by that feature). */
  state: Record<string, unknown>;
}

/**
 * A state's participant claim, read once per state object: awareness replaces a peer's state with a
 * new object on every change, and every view that shows presence reads all of them on each change.
 */
const claimOf = oncePerObject((state): z.infer<typeof presenceClaim> | null => {
  const parsed = presenceClaim.safeParse(state);
  return parsed.success ? parsed.data : null;
});

/**
 * The other peers' awareness states whose participant claim verifies, with name and role from the
 * directory. States still being checked are left out until `auth` announces the result.
 */
export function verifiedPresence(states: Map<number, Record<string, unknown>>, self: number, auth: Authorship): VerifiedPresence[] {
  const out: VerifiedPresence[] = [];
  for (const [clientId, state] of states) {
    if (clientId === self) continue;
    const claim = claimOf(state);
    if (!claim) continue;
    const who = auth.who(claim.participantId);
    // The state object as the record: its verdict is kept with it, not worked out again on every read.
    if (!who || auth.check(claim.participantId, claim.presenceSig, () => presencePayload(clientId), state) !== true) continue;
    out.push({ clientId, participantId: who.participantId, name: who.name, role: who.role, state });
  }
  return out;
}

export const roleLabel: Record<Role, string> = { agent: 'Agent', customer: 'Customer', guest: 'Invited' };
