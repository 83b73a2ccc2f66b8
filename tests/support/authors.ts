/**
 * Signed writers for tests of the shared document (decision 0010): each party has a real key pair
 * (WebCrypto), and `viewer()` is a reader with the session's directory, as the server would give it.
 */
import { Authorship, tabKeys, type DirectoryEntry, type Signer } from '../../lib/collab/authorship';
import type { Role } from '../../lib/protocol';

export interface TestParty {
  participantId: string;
  name: string;
  role: Role;
  signer: Signer;
  entry: DirectoryEntry;
  /** This party's own reader (signer set: what it signs verifies at once). */
  auth: Authorship;
}

export async function makeParties(
  sessionId: string,
  specs: { participantId: string; name: string; role: Role }[],
): Promise<{ parties: TestParty[]; directory: DirectoryEntry[]; viewer: () => Authorship }> {
  const withKeys = await Promise.all(specs.map(async (s, i) => ({ ...s, keys: await tabKeys(sessionId, null), joinedAt: i + 1 })));
  const directory: DirectoryEntry[] = withKeys.map((p) => ({ participantId: p.participantId, name: p.name, role: p.role, keys: [p.keys.publicKey], joinedAt: p.joinedAt }));
  const viewer = () => {
    const auth = new Authorship(sessionId);
    auth.setDirectory(directory);
    return auth;
  };
  const parties = withKeys.map((p, i) => {
    const auth = viewer();
    auth.setSigner(p.participantId, p.keys);
    return { participantId: p.participantId, name: p.name, role: p.role, signer: auth.signer!, entry: directory[i]!, auth };
  });
  return { parties, directory, viewer };
}

/** Reads until every signature the read asked about has been checked, then reads once more. */
export const settledRead = <T>(auth: Authorship, read: () => T): Promise<T> => auth.readSettled(read, Infinity);
