/**
 * The rules of Join Us (handles H1–H9, sessions S1–S6) as one orchestrator over the store interface.
 * It never imports socket.io, Next, Redis or timers: time, ids and randomness are injected, and
 * what the outside world must be told comes out as effects for the shell to deliver.
 */
import { createHash } from 'node:crypto';
import {
  ErrorReason,
  Limits,
  MAX_KEYS_PER_PARTICIPANT,
  Messages,
  type AgentSessionSummary,
  type DirectoryEntry,
  type EndReason,
  type LobbyEntry,
  type QueueChange,
  type QueueEntry,
  type QueueSnapshot,
  type ReservedHandle,
  type Role,
} from '../../lib/protocol';
import type { CredentialRecord, ParticipantRecord, PeerRecord, QueueRequest, SessionRecord, Store } from '../store/types';
import type { Clock, RandomBytes } from './clock';
import { normalizeHandle, suggestHandle } from './handles';
import { fail, ok, Refusals, type Result } from './result';
import { verifyPassword } from './passwords';

export interface CoreConfig {
  /** H5: how long a reservation lives. @default 900_000 (15 minutes) */
  handleTtlMs: number;
  /** S4: how long the agent or the customer may be gone before the session drops. @default 30_000 */
  graceMs: number;
  /** Agent accounts: username → password. */
  agents: ReadonlyMap<string, string>;
  /** How long an agent's sign-in lasts. @default 43_200_000 (12 hours) */
  agentTokenTtlMs: number;
  /** How long an ended session is remembered, so late callers hear "ended" rather than "unknown". */
  endedRetentionMs: number;
  /** Admission lobby on in new sessions (JOINUS_LOBBY); the agent switches it per session. */
  lobbyByDefault: boolean;
  /**
   * How long a signaling node's hold on its connections lasts unless renewed (it renews every third
   * of it). A node dead for this long has its connections counted as gone since it went quiet, so
   * S4's grace clocks start from about its death. @default 10_000
   */
  nodeLeaseMs: number;
}

export const defaultCoreConfig: Omit<CoreConfig, 'agents'> = {
  handleTtlMs: 15 * 60_000,
  graceMs: 30_000,
  agentTokenTtlMs: 12 * 60 * 60_000,
  endedRetentionMs: 60 * 60_000,
  lobbyByDefault: false,
  nodeLeaseMs: 10_000,
};

/** Whose peer: enough to start S4's grace clock for a participant whose peer record is gone. */
export interface Who {
  sessionId: string;
  participantId: string;
}

export type Effect =
  /** One change to the queue, for every signed-in agent (never the whole queue: issue 9). */
  | { type: 'queue_changed'; change: QueueChange }
  | { type: 'customer_admitted'; requestId: string; sessionId: string }
  | { type: 'agent_sessions_changed'; agentName: string }
  | { type: 'handles_changed'; sessionId: string; handles: ReservedHandle[] }
  | { type: 'peer_joined'; peer: PeerRecord }
  /** A participant registered a new public key (decision 0010): the room learns it before the peer. */
  | { type: 'key_added'; sessionId: string; entry: DirectoryEntry }
  | { type: 'peer_left'; peer: PeerRecord }
  | { type: 'session_ended'; sessionId: string; reason: EndReason; peers: PeerRecord[] }
  | { type: 'participant_gone'; sessionId: string; participantId: string; because: 'removed' | 'left'; peers: PeerRecord[] }
  /** The lobby of a session changed: switched, someone waiting, admitted or declined. */
  | { type: 'lobby_changed'; sessionId: string }
  /** The agent decided about a waiting party: it is told. */
  | { type: 'lobby_decided'; sessionId: string; participantId: string; admitted: boolean };

export interface CoreDeps {
  store: Store;
  clock: Clock;
  randomBytes: RandomBytes;
  config: CoreConfig;
  onEffect?: (effect: Effect) => void;
}

export interface LobbyState {
  enabled: boolean;
  waiting: LobbyEntry[];
}

export interface Admission {
  sessionId: string;
  participantId: string;
  role: Role;
  name: string;
}

/** 256 bits, URL-safe: credentials, tokens and the customer's request token. */
const SECRET_BYTES = 32;
/** 128 bits: session, participant, request and peer ids (not secrets, but never guessable). */
const ID_BYTES = 16;

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

export class JoinUsCore {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly randomBytes: RandomBytes;
  readonly config: CoreConfig;
  private readonly onEffect: (effect: Effect) => void;

  constructor(deps: CoreDeps) {
    this.store = deps.store;
    this.clock = deps.clock;
    this.randomBytes = deps.randomBytes;
    this.config = deps.config;
    this.onEffect = deps.onEffect ?? (() => {});
  }

  private secret(): string {
    return Buffer.from(this.randomBytes(SECRET_BYTES)).toString('base64url');
  }

  newId(): string {
    return Buffer.from(this.randomBytes(ID_BYTES)).toString('base64url');
  }

  // ---------------------------------------------------------------- agents

  async signInAgent(username: string, password: string): Promise<Result<{ token: string; name: string }>> {
    if (!(await verifyPassword(password, this.config.agents.get(username)))) {
      return fail(ErrorReason.signInFailed, Messages.signInFailed);
    }
    const token = this.secret();
    const now = this.clock.now();
    await this.store.putAgentToken(hashSecret(token), {
      name: username,
      issuedAt: now,
      expiresAt: now + this.config.agentTokenTtlMs,
    });
    return ok({ token, name: username });
  }

  async resumeAgent(token: string): Promise<Result<{ name: string }>> {
    const t = await this.store.getAgentToken(hashSecret(token), this.clock.now());
    if (!t) return fail(ErrorReason.unauthorized, 'Your sign-in has expired. Sign in again.');
    if (!this.config.agents.has(t.name)) {
      return fail(ErrorReason.unauthorized, 'This account no longer exists. Sign in again.');
    }
    return ok({ name: t.name });
  }

  async signOutAgent(token: string): Promise<void> {
    await this.store.deleteAgentToken(hashSecret(token));
  }

  /** S6: the agent's open sessions, each with a fresh credential for the console asking. */
  async agentSessions(agentName: string): Promise<AgentSessionSummary[]> {
    const sessions = await this.store.listAgentSessions(agentName);
    const out: AgentSessionSummary[] = [];
    for (const s of sessions) {
      out.push(this.summary(s, await this.issueCredential(s.sessionId, s.agentParticipantId)));
    }
    return out;
  }

  async agentSessionList(agentName: string): Promise<Omit<AgentSessionSummary, 'credential'>[]> {
    return (await this.store.listAgentSessions(agentName)).map((s) => {
      const { credential: _c, ...rest } = this.summary(s, '');
      return rest;
    });
  }

  private summary(s: SessionRecord, credential: string): AgentSessionSummary {
    return { sessionId: s.sessionId, customerName: s.customerName, topic: s.topic, startedAt: s.startedAt, credential };
  }

  private async issueCredential(sessionId: string, participantId: string): Promise<string> {
    const c = this.newCredential(sessionId, participantId, this.clock.now());
    await this.store.putCredential(c.hash, c.record);
    return c.credential;
  }

  /** A fresh credential for a participant: what it is told, and what the store keeps (its hash). */
  private newCredential(sessionId: string, participantId: string, now: number) {
    const credential = this.secret();
    const record: CredentialRecord = { sessionId, participantId, issuedAt: now, revoked: null };
    return { credential, hash: hashSecret(credential), record };
  }

  // ---------------------------------------------------------------- queue (S1)

  /** The first `limit` waiting customers, the count and the version they are as of. */
  async queueSnapshot(limit: number): Promise<QueueSnapshot> {
    const w = await this.store.queueWindow(limit);
    return { version: w.version, count: w.count, entries: w.requests.map(queueEntry) };
  }

  async queuePosition(requestId: string): Promise<{ position: number; version: number } | null> {
    return this.store.queuePosition(requestId);
  }

  /**
   * S1: a customer asks for help. `beforeEnqueue` runs before anyone can know of the request: the
   * shell puts the connection in the request's room there, so an agent accepting at once is heard.
   * With `connectionId`, the request is queued offline and that connection then holds it (online):
   * should the hold not be written (the store out of reach), the request leaves the queue after the
   * grace period rather than wait for ever with nobody behind it. Without one (tests, tools) it is
   * queued online.
   */
  async requestHelp(
    name: string,
    topic: string,
    opts: { beforeEnqueue?: (requestId: string) => Promise<void>; connectionId?: string } = {},
  ): Promise<{ requestId: string; requestToken: string; position: number; version: number }> {
    const requestToken = this.secret();
    const at = this.clock.now();
    const request: QueueRequest = {
      requestId: this.newId(),
      tokenHash: hashSecret(requestToken),
      name,
      topic,
      requestedAt: at,
      offlineSince: opts.connectionId ? at : null,
    };
    await opts.beforeEnqueue?.(request.requestId);
    const added = await this.store.enqueue(request);
    this.onEffect({ type: 'queue_changed', change: { ...added, added: queueEntry(request) } });
    if (opts.connectionId) {
      try {
        await this.store.holdRequest(request.requestId, opts.connectionId);
      } catch (err) {
        // The customer is told it failed and may ask again: this one goes (now, or after the grace).
        await this.claim(request.requestId, 'left').catch(() => {});
        throw err;
      }
    }
    // Where it stands now (an agent may have taken someone ahead of it meanwhile).
    const now = await this.store.queuePosition(request.requestId);
    return { requestId: request.requestId, requestToken, position: now?.position ?? added.count, version: now?.version ?? added.version };
  }

  /**
   * A waiting customer comes back (reload, reconnect). Their request token is also the credential
   * an accepting agent registers for them, so an admission made while they were away is not lost.
   */
  async resumeRequest(
    requestToken: string,
    opts: {
      /**
       * Runs once the waiting request is found, before its place is read: the shell puts the
       * connection in the request's room there, so an acceptance after it is heard and one before it
       * is found below.
       */
      beforeResume?: (requestId: string) => Promise<void>;
      /** The connection that now waits on the request (it holds it: online). */
      connectionId?: string;
    } = {},
  ): Promise<Result<{ requestId: string; position: number; version: number } | { admitted: { sessionId: string } }>> {
    const tokenHash = hashSecret(requestToken);
    const waiting = await this.store.findRequestByTokenHash(tokenHash);
    if (waiting) {
      await opts.beforeResume?.(waiting.requestId);
      if (opts.connectionId) await this.store.holdRequest(waiting.requestId, opts.connectionId);
      else await this.store.setRequestOffline(waiting.requestId, null);
      const at = await this.store.queuePosition(waiting.requestId);
      if (at) return ok({ requestId: waiting.requestId, ...at });
      // Taken or gone between the two reads: the answers below say which.
    }
    const cred = await this.store.getCredential(tokenHash);
    if (cred && !cred.revoked) return ok({ admitted: { sessionId: cred.sessionId } });
    return fail(ErrorReason.notFound, 'Your request is no longer in the queue. Start a new session.');
  }

  async cancelRequest(requestToken: string): Promise<void> {
    const waiting = await this.store.findRequestByTokenHash(hashSecret(requestToken));
    if (waiting) await this.claim(waiting.requestId, 'left');
  }

  /** Take a request out of the queue and tell the agents; null if it was no longer there. */
  private async claim(requestId: string, because: 'taken' | 'left'): Promise<QueueRequest | null> {
    const claimed = await this.store.claimRequest(requestId, Limits.queueHead);
    if (!claimed) return null;
    this.onEffect({
      type: 'queue_changed',
      change: {
        version: claimed.version,
        count: claimed.count,
        removed: { requestId, because },
        ...(claimed.next ? { next: { place: Limits.queueHead, entry: queueEntry(claimed.next) } } : {}),
      },
    });
    return claimed.request;
  }

  /**
   * A connection stops waiting on the request (closed, or moved to another request). The request is
   * offline, and its grace clock runs, once no connection on any node holds it (one store step, so a
   * tab holding it again at the same moment on another node cannot be overtaken).
   */
  async releaseRequest(requestId: string, connectionId: string, at = this.clock.now()): Promise<void> {
    await this.store.releaseRequest(requestId, connectionId, at);
  }

  /** S1: of several agents accepting at once, exactly one gets the session. */
  async acceptRequest(agentName: string, requestId: string): Promise<Result<AgentSessionSummary>> {
    const request = await this.claim(requestId, 'taken');
    if (!request) return fail(ErrorReason.alreadyTaken, 'Another agent has already accepted this customer.');
    const now = this.clock.now();
    const session: SessionRecord = {
      sessionId: this.newId(),
      agentName,
      agentParticipantId: this.newId(),
      customerParticipantId: this.newId(),
      customerName: request.name,
      topic: request.topic,
      startedAt: now,
      state: 'active',
      endedAt: null,
      endReason: null,
      // Both grace clocks start now: a party that never attaches is as gone as one that left.
      agentOfflineSince: now,
      customerOfflineSince: request.offlineSince ?? now,
      lobby: this.config.lobbyByDefault,
    };
    await this.store.createSession(session, [
      { participantId: session.agentParticipantId, sessionId: session.sessionId, role: 'agent', name: agentName, joinedAt: now, state: 'active' },
      { participantId: session.customerParticipantId, sessionId: session.sessionId, role: 'customer', name: request.name, joinedAt: now, state: 'active' },
    ]);
    await this.store.putCredential(request.tokenHash, {
      sessionId: session.sessionId,
      participantId: session.customerParticipantId,
      issuedAt: now,
      revoked: null,
    });
    const credential = await this.issueCredential(session.sessionId, session.agentParticipantId);
    this.onEffect({ type: 'customer_admitted', requestId: request.requestId, sessionId: session.sessionId });
    this.onEffect({ type: 'agent_sessions_changed', agentName });
    return ok(this.summary(session, credential));
  }

  // ---------------------------------------------------------------- handles (H1–H9)

  private async agentSession(agentName: string, sessionId: string): Promise<Result<SessionRecord>> {
    const s = await this.store.getSession(sessionId);
    if (!s || s.agentName !== agentName) return Refusals.notYourSession();
    if (s.state !== 'active') return Refusals.sessionEnded();
    return ok(s);
  }

  async reservedHandles(sessionId: string): Promise<ReservedHandle[]> {
    return (await this.store.listSessionHandles(sessionId, this.clock.now())).map(reservedHandle);
  }

  private async handlesChanged(sessionId: string): Promise<void> {
    this.onEffect({ type: 'handles_changed', sessionId, handles: await this.reservedHandles(sessionId) });
  }

  /** H1, H2, H5, H9. */
  async reserveHandle(agentName: string, sessionId: string, raw: string): Promise<Result<ReservedHandle>> {
    const checked = normalizeHandle(raw);
    if (!checked.ok) {
      // Not the agent's session, or ended: that answer comes first, as for a valid handle.
      const s = await this.agentSession(agentName, sessionId);
      return s.ok ? fail(ErrorReason.handleInvalid, checked.message) : s;
    }
    const now = this.clock.now();
    const reservation = {
      handle: checked.handle,
      sessionId,
      reservedBy: agentName,
      reservedAt: now,
      expiresAt: now + this.config.handleTtlMs,
    };
    // One store step checks the session (the agent's, active) and reserves (H2), so a session that
    // drops meanwhile (H4) either ended before (no reservation) or frees this one with the rest; and
    // it answers with the session's handles for the console (one round trip with Redis, not four).
    const r = await this.store.reserveSessionHandle(reservation, now);
    if (!r.reserved) {
      if (r.because === 'in_use') return fail(ErrorReason.handleInUse, Messages.handleInUse);
      return r.because === 'session_ended' ? Refusals.sessionEnded() : Refusals.notYourSession();
    }
    this.onEffect({ type: 'handles_changed', sessionId, handles: r.handles.map(reservedHandle) });
    return ok({ handle: reservation.handle, expiresAt: reservation.expiresAt });
  }

  /** H7: a free handle, easy to read aloud. */
  async suggestHandle(agentName: string, sessionId: string): Promise<Result<{ handle: string }>> {
    const s = await this.agentSession(agentName, sessionId);
    if (!s.ok) return s;
    for (let attempt = 0; attempt < 16; attempt++) {
      const handle = suggestHandle(this.randomBytes);
      if (!(await this.store.getHandle(handle, this.clock.now()))) return ok({ handle });
    }
    return fail(ErrorReason.internal, 'Could not find a free handle. Try again.');
  }

  /** H5: the agent cancels a reservation of its own session. */
  async cancelHandle(agentName: string, sessionId: string, raw: string): Promise<Result<object>> {
    const s = await this.agentSession(agentName, sessionId);
    if (!s.ok) return s;
    const checked = normalizeHandle(raw);
    if (!checked.ok || !(await this.store.releaseHandle(checked.handle, sessionId))) {
      return fail(ErrorReason.notFound, 'That handle is not reserved for this session.');
    }
    await this.handlesChanged(sessionId);
    return ok({});
  }

  /**
   * H3, H6, H8: a third party logs in with a handle. The handle is consumed atomically (exactly one
   * of any number of concurrent log-ins gets it) and is free again from that moment. Every unusable
   * handle gets the same answer. Rate limiting is the shell's (it needs the client's address).
   */
  async loginWithHandle(name: string, raw: string): Promise<Result<{ sessionId: string; credential: string; waiting: boolean }>> {
    const unusable = () => fail(ErrorReason.handleUnusable, Messages.handleUnusable);
    const checked = normalizeHandle(raw);
    if (!checked.ok) return unusable();
    const now = this.clock.now();
    // Taken, with its session and the session's handles left, and the party with its credential
    // written if the session is active, in one store step (one round trip with Redis). With the
    // lobby on, the party waits: its credential admits to nothing until the agent admits it.
    const participantId = this.newId();
    const credential = this.secret();
    const consumed = await this.store.consumeSessionHandle(checked.handle, now, { participantId, name, credentialHash: hashSecret(credential) });
    if (!consumed) return unusable();
    const { reservation, guest } = consumed;
    this.onEffect({ type: 'handles_changed', sessionId: reservation.sessionId, handles: consumed.handles.map(reservedHandle) });
    if (!guest) return unusable(); // the session is gone or over
    const waiting = guest.state === 'waiting';
    if (waiting) this.onEffect({ type: 'lobby_changed', sessionId: guest.sessionId });
    return ok({ sessionId: guest.sessionId, credential, waiting });
  }

  // ---------------------------------------------------------------- admission lobby

  /** The agent's view of the lobby: on or off, and who waits (oldest first). */
  async lobby(sessionId: string): Promise<LobbyState> {
    const s = await this.store.getSession(sessionId);
    const waiting = (await this.store.listParticipants(sessionId))
      .filter((p) => p.state === 'waiting')
      .sort((a, b) => a.joinedAt - b.joinedAt)
      .map((p) => ({ participantId: p.participantId, name: p.name, since: p.joinedAt }));
    return { enabled: s?.lobby ?? false, waiting };
  }

  async setLobby(agentName: string, sessionId: string, enabled: boolean): Promise<Result<object>> {
    const s = await this.agentSession(agentName, sessionId);
    if (!s.ok) return s;
    await this.store.setLobby(sessionId, enabled);
    this.onEffect({ type: 'lobby_changed', sessionId });
    return ok({});
  }

  /**
   * A party in the lobby asks where it stands (on arrival, and again after a reload). Waiting or
   * admitted; declined and ended are refusals that say so.
   */
  async lobbyStatus(credential: string): Promise<Result<{ sessionId: string; participantId: string; admitted: boolean }>> {
    const cred = await this.store.getCredential(hashSecret(credential));
    if (!cred) return Refusals.credentialUnknown();
    if (cred.revoked === 'declined') return Refusals.declined();
    const admission = await this.authenticate(credential);
    if (admission.ok) return ok({ sessionId: admission.value.sessionId, participantId: admission.value.participantId, admitted: true });
    if (admission.error.reason !== ErrorReason.waiting) return admission;
    return ok({ sessionId: cred.sessionId, participantId: cred.participantId, admitted: false });
  }

  /** The agent lets a waiting party in (`admit`) or not; of two decisions at once, one counts. */
  async decide(agentName: string, sessionId: string, participantId: string, admit: boolean): Promise<Result<object>> {
    const s = await this.agentSession(agentName, sessionId);
    if (!s.ok) return s;
    const p = await this.store.getParticipant(participantId);
    if (!p || p.sessionId !== sessionId) return fail(ErrorReason.notFound, 'Nobody by that name is waiting.');
    const changed = await this.store.setParticipantState(participantId, admit ? 'active' : 'declined', 'waiting');
    if (!changed) return fail(ErrorReason.notFound, `${p.name} is no longer waiting.`);
    // Declined: the handle stays spent and the credential is dead.
    if (!admit) await this.store.revokeCredentials({ sessionId, participantId }, 'declined');
    this.onEffect({ type: 'lobby_decided', sessionId, participantId, admitted: admit });
    this.onEffect({ type: 'lobby_changed', sessionId });
    return ok({});
  }

  // ---------------------------------------------------------------- admission and peers (S2, S3)

  /** S2: a credential admits to its own session and nothing else. */
  async authenticate(credential: string): Promise<Result<Admission>> {
    const cred = await this.store.getCredential(hashSecret(credential));
    if (!cred) return Refusals.credentialUnknown();
    if (cred.revoked === 'session_ended') return Refusals.sessionEnded();
    if (cred.revoked === 'removed') return Refusals.removed();
    if (cred.revoked === 'left') return Refusals.left();
    if (cred.revoked === 'declined') return Refusals.declined();
    const [session, participant] = await Promise.all([
      this.store.getSession(cred.sessionId),
      this.store.getParticipant(cred.participantId),
    ]);
    if (!session || session.state !== 'active') return Refusals.sessionEnded();
    if (!participant) return Refusals.credentialUnknown();
    if (participant.state === 'removed') return Refusals.removed();
    if (participant.state === 'left') return Refusals.left();
    if (participant.state === 'declined') return Refusals.declined();
    if (participant.state === 'waiting') return Refusals.waiting();
    return ok({ sessionId: session.sessionId, participantId: participant.participantId, role: participant.role, name: participant.name });
  }

  /**
   * A participant's connection enters its session's signaling room (S2, S3).
   *
   * `resumePeerId`: the peer id this tab held before its socket dropped. If it is this participant's,
   * the tab takes it back, so other peers keep the data channels they hold to it (a signaling blip
   * closes nothing). Otherwise a fresh peer id is minted.
   *
   * `beforeEnter` runs before the peer is registered and before the room is listed: the shell joins
   * the socket to the session's rooms there. Every pair of peers attaching at the same moment then
   * learns of each other: whichever registers second lists the first, and the first is in the room
   * before the second announces itself (issue 5: with a slow store, nobody learned of anybody).
   * If attach fails after `beforeEnter`, the shell undoes what it did there.
   */
  async attach(
    credential: string,
    connectionId: string,
    opts: {
      resumePeerId?: string;
      /** The tab's public key, registered in the session's directory (decision 0010). */
      publicKey?: string;
      beforeEnter?: (peer: { peerId: string; sessionId: string; role: Role }) => Promise<void>;
    } = {},
  ): Promise<
    Result<Admission & { peerId: string; resumed: boolean; peers: { peerId: string; participantId: string }[]; directory: DirectoryEntry[] }>
  > {
    const admitted = await this.authenticate(credential);
    if (!admitted.ok) return admitted;
    const a = admitted.value;
    if (opts.publicKey) {
      // Registered before the room hears of the peer: whoever receives its writes knows its key.
      const added = await this.store.addParticipantKey(a.participantId, opts.publicKey, MAX_KEYS_PER_PARTICIPANT);
      if (added === 'full') {
        return fail(ErrorReason.forbidden, 'You have opened this session in too many browser tabs. Close some and reload this one.');
      }
      if (added === 'added') {
        const p = await this.store.getParticipant(a.participantId);
        if (p) this.onEffect({ type: 'key_added', sessionId: a.sessionId, entry: directoryEntry(p) });
      }
    }
    let peerId = this.newId();
    let resumed = false;
    if (opts.resumePeerId) {
      const held = await this.store.getPeer(opts.resumePeerId);
      // Only the participant's own peer can be taken back; anyone else's id gets a fresh one.
      if (held && held.sessionId === a.sessionId && held.participantId === a.participantId) {
        peerId = held.peerId;
        resumed = true;
      }
    }
    await opts.beforeEnter?.({ peerId, sessionId: a.sessionId, role: a.role });
    const peer: PeerRecord = { peerId, sessionId: a.sessionId, participantId: a.participantId, connectionId, disconnectedAt: null };
    await this.store.putPeer(peer);
    // S4, S5: a removal or the session's drop may have happened since we authenticated, and may
    // already have cut off the peers it saw. Check again now the peer is visible, so either that
    // cut-off or this check removes it: a revoked participant never keeps a peer in the room.
    const still = await this.authenticate(credential);
    if (!still.ok) {
      await this.store.deletePeer(peer.peerId);
      return still;
    }
    let others = (await this.store.listPeers(a.sessionId)).filter((p) => p.peerId !== peerId);
    if (!resumed) {
      // Back under a new id (a reload): this participant's peers that are away are its old tabs,
      // not coming back. Retire them now rather than keep everyone waiting out the grace period.
      const stale = others.filter((p) => p.participantId === a.participantId && p.connectionId === null);
      for (const p of stale) await this.detach(p.peerId);
      others = others.filter((p) => !stale.includes(p));
    }
    if (a.role === 'agent' || a.role === 'customer') await this.store.setOfflineSince(a.sessionId, a.role, null);
    // Announced on a resume too: peers whose signals to it were refused while it was away send them again.
    this.onEffect({ type: 'peer_joined', peer });
    return ok({
      ...a,
      peerId,
      resumed,
      peers: others.map((p) => ({ peerId: p.peerId, participantId: p.participantId })),
      directory: await this.directory(a.sessionId),
    });
  }

  /** Everyone admitted to the session (not those waiting in or declined at the lobby), with their keys. */
  async directory(sessionId: string): Promise<DirectoryEntry[]> {
    const all = await this.store.listParticipants(sessionId);
    return all.filter((p) => p.state !== 'waiting' && p.state !== 'declined').map(directoryEntry);
  }

  /**
   * Who a connection is in a session, from the store (the one source of truth on every node): the
   * peer it holds there, if the peer still exists on this very connection (not ended, removed, left,
   * retired, or taken back by the tab on another connection). Refused with `session_ended` once the
   * session is over, with "join first" otherwise.
   */
  async attachedAs(
    sessionId: string,
    held: { peerId: string; participantId: string },
    connectionId: string,
  ): Promise<Result<{ peerId: string; sessionId: string; participantId: string; role: Role }>> {
    const [peer, participant] = await Promise.all([this.store.getPeer(held.peerId), this.store.getParticipant(held.participantId)]);
    if (participant?.state === 'removed') return Refusals.removed();
    if (participant?.state === 'left') return Refusals.left();
    const holds =
      peer && participant && participant.state === 'active' && peer.sessionId === sessionId && peer.participantId === participant.participantId && peer.connectionId === connectionId;
    if (!holds) {
      const session = await this.store.getSession(sessionId);
      return session && session.state === 'ended' ? Refusals.sessionEnded() : Refusals.notAttached();
    }
    return ok({ peerId: held.peerId, sessionId, participantId: participant.participantId, role: participant.role });
  }

  /**
   * The connection holding a peer went away (S3): the peer stays in the room, away, for the grace
   * period, so a tab that reconnects takes it back and nobody's data channel to it closes. For the
   * agent and the customer, S4's grace clock starts once none of their tabs is connected.
   */
  async disconnect(peerId: string, connectionId: string, now = this.clock.now(), who?: Who): Promise<void> {
    const marked = await this.store.markPeerAway(peerId, connectionId, now);
    // Done again (a clean-up tried again after the store was out of reach half-way): the grace clock
    // is started from what the store has, so the first try's mark is not the end of it.
    const peer = marked ?? (await this.store.getPeer(peerId));
    if (peer) {
      if (peer.connectionId === null) await this.startGraceIfAway(peer, peer.disconnectedAt ?? now);
      return;
    }
    if (who) await this.startGraceIfAway(who, now);
  }

  /**
   * A peer leaves the room for good (the tab closed its view, or stayed away too long). `who` (the
   * connection's own note of the peer) lets a second try start the grace clock once the first has
   * deleted the peer.
   */
  async detach(peerId: string, who?: Who): Promise<void> {
    const peer = await this.store.deletePeer(peerId);
    if (peer) this.onEffect({ type: 'peer_left', peer });
    const gone = peer ?? who;
    if (gone) await this.startGraceIfAway(gone, this.clock.now());
  }

  /** S4: the agent's or the customer's grace clock starts once none of their tabs is connected. */
  private async startGraceIfAway(who: Who, now: number): Promise<void> {
    const [session, participant] = await Promise.all([this.store.getSession(who.sessionId), this.store.getParticipant(who.participantId)]);
    if (!session || session.state !== 'active' || !participant) return;
    if (participant.role === 'guest') return;
    const present = (await this.store.listPeers(who.sessionId)).some(
      (p) => p.participantId === who.participantId && p.connectionId !== null,
    );
    if (present) return;
    // Keep the earliest time: a second tab going later must not push the clock back.
    const since = participant.role === 'agent' ? session.agentOfflineSince : session.customerOfflineSince;
    if (since === null) await this.store.setOfflineSince(who.sessionId, participant.role, now);
  }

  /**
   * S2: signaling flows only between two peers of the same session. A peer that is away (its tab
   * reconnecting) is refused with `peer_away`, so the sender keeps the message until it is back.
   */
  async checkRelay(fromPeerId: string, sessionId: string, toPeerId: string, fromConnectionId?: string): Promise<Result<object>> {
    const [from, to] = await Promise.all([this.store.getPeer(fromPeerId), this.store.getPeer(toPeerId)]);
    if (!from || from.sessionId !== sessionId) return Refusals.notAttached();
    if (fromConnectionId !== undefined && from.connectionId !== fromConnectionId) return Refusals.notAttached();
    if (!to || to.sessionId !== sessionId) return fail(ErrorReason.notFound, 'That participant is no longer connected.');
    if (to.connectionId === null) return fail(ErrorReason.peerAway, 'That participant is reconnecting.');
    return ok({});
  }

  // ---------------------------------------------------------------- ending, leaving, removing (S4, S5)

  async endSession(sessionId: string, actorParticipantId: string): Promise<Result<object>> {
    const s = await this.store.getSession(sessionId);
    if (!s) return Refusals.notAttached();
    if (s.state !== 'active') return Refusals.sessionEnded();
    if (actorParticipantId === s.agentParticipantId) await this.drop(s, 'ended_by_agent');
    else if (actorParticipantId === s.customerParticipantId) await this.drop(s, 'ended_by_customer');
    else return fail(ErrorReason.forbidden, 'Only the agent or the customer can end the session. Use Leave instead.');
    return ok({});
  }

  /** S4 and H4: one transition to ended; handles freed, credentials revoked, everyone told. */
  private async drop(s: SessionRecord, reason: EndReason): Promise<void> {
    const ended = await this.store.endSession(s.sessionId, reason, this.clock.now());
    if (!ended) return;
    for (const h of await this.store.listSessionHandles(s.sessionId, Number.NEGATIVE_INFINITY)) {
      await this.store.releaseHandle(h.handle, s.sessionId);
    }
    await this.store.revokeCredentials({ sessionId: s.sessionId }, 'session_ended');
    const peers = await this.store.listPeers(s.sessionId);
    for (const p of peers) await this.store.deletePeer(p.peerId);
    this.onEffect({ type: 'session_ended', sessionId: s.sessionId, reason, peers });
    this.onEffect({ type: 'handles_changed', sessionId: s.sessionId, handles: [] });
    this.onEffect({ type: 'agent_sessions_changed', agentName: s.agentName });
  }

  /** S5: a joined party leaves; the session goes on. */
  async leave(sessionId: string, participantId: string): Promise<Result<object>> {
    const p = await this.store.getParticipant(participantId);
    if (!p || p.sessionId !== sessionId) return Refusals.notAttached();
    if (p.role !== 'guest') {
      return fail(ErrorReason.forbidden, 'The agent and the customer end the session rather than leave it.');
    }
    // Leaving is idempotent, and must not turn a removal into a departure or announce it twice.
    if (p.state === 'removed') return Refusals.removed();
    if (p.state === 'left') return ok({});
    await this.dismiss(sessionId, participantId, 'left');
    return ok({});
  }

  /** S5: the agent removes a joined party; its credential is revoked and its peers cut off. */
  async removeParticipant(sessionId: string, actorParticipantId: string, targetParticipantId: string): Promise<Result<object>> {
    const s = await this.store.getSession(sessionId);
    if (!s || s.agentParticipantId !== actorParticipantId) return Refusals.notYourSession();
    if (s.state !== 'active') return Refusals.sessionEnded();
    const target = await this.store.getParticipant(targetParticipantId);
    if (!target || target.sessionId !== sessionId || target.role !== 'guest') {
      return fail(ErrorReason.notFound, 'Only a joined party can be removed.');
    }
    if (target.state !== 'active') return fail(ErrorReason.notFound, 'That party has already left.');
    await this.dismiss(sessionId, targetParticipantId, 'removed');
    return ok({});
  }

  private async dismiss(sessionId: string, participantId: string, because: 'removed' | 'left'): Promise<void> {
    await this.store.setParticipantState(participantId, because);
    await this.store.revokeCredentials({ sessionId, participantId }, because);
    const peers = (await this.store.listPeers(sessionId)).filter((p) => p.participantId === participantId);
    for (const p of peers) await this.store.deletePeer(p.peerId);
    this.onEffect({ type: 'participant_gone', sessionId, participantId, because, peers });
  }

  // ---------------------------------------------------------------- the passing of time (H5, S4)

  /** Called periodically by the shell (and by tests after advancing a fake clock). */
  async sweep(): Promise<void> {
    const now = this.clock.now();
    const touched = new Set((await this.store.takeExpiredHandles(now)).map((h) => h.sessionId));
    for (const sessionId of touched) await this.handlesChanged(sessionId);

    for (const s of await this.store.listSessionsInGrace()) {
      if (s.agentOfflineSince !== null && now - s.agentOfflineSince >= this.config.graceMs) {
        await this.drop(s, 'agent_disconnected');
      } else if (s.customerOfflineSince !== null && now - s.customerOfflineSince >= this.config.graceMs) {
        await this.drop(s, 'customer_disconnected');
      }
    }

    // S3: a peer away for longer than the grace period is not coming back under that id (unless its
    // tab took it back meanwhile: the store deletes it only if it is still away since then).
    for (const p of await this.store.listAwayPeers()) {
      if (p.disconnectedAt === null || now - p.disconnectedAt < this.config.graceMs) continue;
      const retired = await this.store.deletePeerIfAway(p.peerId, p.disconnectedAt);
      if (!retired) continue;
      this.onEffect({ type: 'peer_left', peer: retired });
      // A backstop: had the grace clock not been started when it went away (the store out of reach
      // half-way), it starts now as of then, and the session drops at the next sweep.
      await this.startGraceIfAway(retired, p.disconnectedAt);
    }

    for (const r of await this.store.listOfflineRequests()) {
      if (r.offlineSince !== null && now - r.offlineSince >= this.config.graceMs) await this.claim(r.requestId, 'left');
    }

    await this.store.purgeEndedSessions(now - this.config.endedRetentionMs);
    // Last: should a dead node's reaping keep failing, the rest of the sweep still runs each time.
    await this.reapDeadNodes(now);
  }

  /**
   * S4 across nodes: a node whose lease ran out died without closing its connections. Each of its
   * peers and request holds is disconnected as of when it last renewed at the latest (a lease back),
   * so the grace period counts from about its death, and what it held is freed like any other drop.
   */
  private async reapDeadNodes(now: number): Promise<void> {
    const since = now - this.config.nodeLeaseMs;
    await this.store.takeExpiredNodes(now);
    // Every node being reaped, not only the ones just taken: a sweep that failed half-way (the store
    // out of reach, the sweeping node dying) is finished by a later one. Each step is idempotent.
    let failed: unknown = null;
    for (const nodeId of await this.store.listReapingNodes()) {
      try {
        for (const p of await this.store.listNodePeers(nodeId)) {
          if (p.connectionId !== null) await this.disconnect(p.peerId, p.connectionId, since);
        }
        for (const h of await this.store.listNodeRequestHolds(nodeId)) await this.releaseRequest(h.requestId, h.connectionId, since);
        await this.store.finishReaping(nodeId);
      } catch (err) {
        failed ??= err; // the other nodes are reaped all the same; this one again next sweep
      }
    }
    if (failed) throw failed;
  }
}

function reservedHandle(h: { handle: string; expiresAt: number }): ReservedHandle {
  return { handle: h.handle, expiresAt: h.expiresAt };
}

function queueEntry(r: QueueRequest): QueueEntry {
  return { requestId: r.requestId, name: r.name, topic: r.topic, requestedAt: r.requestedAt };
}

function directoryEntry(p: ParticipantRecord): DirectoryEntry {
  return {
    participantId: p.participantId,
    name: p.name,
    role: p.role,
    keys: p.keys ?? [],
    joinedAt: p.joinedAt,
    ...(p.state === 'left' || p.state === 'removed' ? { gone: p.state } : {}),
  };
}
