/**
 * The embedded default: everything in this process's memory. Each method runs to completion on the
 * event loop before another starts, which is what makes every step atomic here.
 *
 * Every read a request or the sweep makes goes through an index kept in step by every write (and by
 * the purge), so none of them walks the whole store: handles by session and by expiry, the queue in
 * order with a sequence number per request (a position is a binary search), requests by token hash
 * and the offline ones, sessions that are active, by agent, in grace and ended in end order,
 * participants, credentials and peers by session. Only `listQueue`, `queueOrder` (the ids, once per
 * batch of position updates) and `listActiveSessions` read a whole collection, as their contract
 * says. Reads return copies: a caller cannot change what is stored.
 */
import type {
  AgentTokenRecord,
  CredentialRecord,
  HandleGuest,
  HandleReservation,
  ParticipantRecord,
  PeerRecord,
  QueueRequest,
  QueueVersion,
  RevokedBecause,
  SessionHandleConsumed,
  SessionHandleReserved,
  SessionRecord,
  Store,
} from './types';
import { guestRecords, nodeOf } from './types';
import type { EndReason } from '../../lib/protocol';

/** A waiting request and its place in enqueue order (increasing along the queue, never reused). */
interface Waiting {
  request: QueueRequest;
  seq: number;
}

/** An ended session in the end-order index. */
interface Ended {
  sessionId: string;
  endedAt: number;
}

export class MemoryStore implements Store {
  private readonly handles = new Map<string, HandleReservation>();
  private readonly handlesBySession = new Map<string, Set<string>>();
  /**
   * Every reservation made, by expiry, soonest first. Released, consumed and replaced reservations
   * are left in it and skipped when they come up (the record in `handles` is no longer the same
   * object); it is rebuilt when those outnumber the live ones. (A NaN expiry, never taken, sorts
   * last rather than stopping the sweep at it.)
   */
  private readonly handleExpiry = new MinHeap<HandleReservation>((h) => (Number.isNaN(h.expiresAt) ? Infinity : h.expiresAt));

  private readonly waiting = new Map<string, Waiting>();
  /** The waiting requests in enqueue order, so by `seq` ascending. */
  private readonly queue: Waiting[] = [];
  private readonly requestByTokenHash = new Map<string, string>();
  /** Ids of waiting requests whose customer has no connection (offlineSince not null). */
  private readonly offlineRequests = new Set<string>();
  private queueVersion = 0;
  private nextSeq = 0;

  private readonly sessions = new Map<string, SessionRecord>();
  private readonly activeSessions = new Set<string>();
  /** Active sessions only. */
  private readonly agentSessions = new Map<string, Set<string>>();
  /** Active sessions with the agent's or the customer's grace clock running. */
  private readonly sessionsInGrace = new Set<string>();
  /** Ended sessions by endedAt ascending (ties in end order); the purge takes a prefix. */
  private readonly ended: Ended[] = [];

  private readonly participants = new Map<string, ParticipantRecord>();
  private readonly participantsBySession = new Map<string, Set<string>>();
  private readonly credentials = new Map<string, CredentialRecord>();
  private readonly credentialsBySession = new Map<string, Set<string>>();
  private readonly peers = new Map<string, PeerRecord>();
  private readonly peersBySession = new Map<string, Set<string>>();
  /** Ids of peers whose connection is gone: the sweep looks at these only. */
  private readonly awayPeers = new Set<string>();
  private readonly agentTokens = new Map<string, AgentTokenRecord>();
  /** Peers by the node of their connection (connected peers only). */
  private readonly peersByNode = new Map<string, Set<string>>();
  /** Connections holding each waiting request, and the same holds by node (`requestId\nconnectionId`). */
  private readonly requestHolds = new Map<string, Set<string>>();
  private readonly holdsByNode = new Map<string, Set<string>>();
  private readonly nodeLeases = new Map<string, number>();
  private readonly reaping = new Set<string>();
  private readonly turns = new Map<string, { owner: string; until: number }>();

  // ---------------------------------------------------------------- handles

  async reserveHandle(r: HandleReservation, nowMs: number): Promise<boolean> {
    return this.reserve(r, nowMs);
  }

  private reserve(r: HandleReservation, nowMs: number): boolean {
    const held = this.handles.get(r.handle);
    if (held && held.expiresAt > nowMs) return false;
    if (held) this.dropHandle(held);
    const rec = { ...r };
    this.handles.set(rec.handle, rec);
    addTo(this.handlesBySession, rec.sessionId, rec.handle);
    this.handleExpiry.push(rec);
    // Stale entries come only from live ones, so checking here bounds the heap at about twice them.
    if (this.handleExpiry.size > 2 * this.handles.size + 64) this.handleExpiry.rebuild(this.handles.values());
    return true;
  }

  async getHandle(handle: string, nowMs: number): Promise<HandleReservation | null> {
    const held = this.handles.get(handle);
    return held && held.expiresAt > nowMs ? { ...held } : null;
  }

  async consumeHandle(handle: string, nowMs: number): Promise<HandleReservation | null> {
    return this.consume(handle, nowMs);
  }

  private consume(handle: string, nowMs: number): HandleReservation | null {
    const held = this.handles.get(handle);
    if (!held) return null;
    this.dropHandle(held);
    return held.expiresAt > nowMs ? { ...held } : null;
  }

  // These two are the steps above put together, with no await in between: one step, as in Redis.
  async reserveSessionHandle(r: HandleReservation, nowMs: number): Promise<SessionHandleReserved> {
    const session = this.sessions.get(r.sessionId);
    if (!session || session.agentName !== r.reservedBy) return { reserved: false, because: 'not_your_session' };
    if (session.state !== 'active') return { reserved: false, because: 'session_ended' };
    if (!this.reserve(r, nowMs)) return { reserved: false, because: 'in_use' };
    return { reserved: true, handles: this.liveHandles(r.sessionId, nowMs) };
  }

  async consumeSessionHandle(handle: string, nowMs: number, guest?: HandleGuest): Promise<SessionHandleConsumed | null> {
    const reservation = this.consume(handle, nowMs);
    if (!reservation) return null;
    const session = this.sessions.get(reservation.sessionId);
    const consumed: SessionHandleConsumed = { reservation, session: session ? { ...session } : null, handles: this.liveHandles(reservation.sessionId, nowMs) };
    if (guest && session?.state === 'active') {
      const { participant, credential } = guestRecords(guest, session, nowMs);
      this.putParticipantRecord(participant);
      this.putCredentialRecord(guest.credentialHash, credential);
      consumed.guest = participant; // the store keeps a copy
    }
    return consumed;
  }

  async releaseHandle(handle: string, sessionId: string): Promise<HandleReservation | null> {
    const held = this.handles.get(handle);
    if (!held || held.sessionId !== sessionId) return null;
    this.dropHandle(held);
    return { ...held };
  }

  async listSessionHandles(sessionId: string, nowMs: number): Promise<HandleReservation[]> {
    return this.liveHandles(sessionId, nowMs);
  }

  private liveHandles(sessionId: string, nowMs: number): HandleReservation[] {
    const out: HandleReservation[] = [];
    for (const handle of this.handlesBySession.get(sessionId) ?? []) {
      const h = this.handles.get(handle)!;
      if (h.expiresAt > nowMs) out.push({ ...h });
    }
    return out.sort((a, b) => a.reservedAt - b.reservedAt);
  }

  async takeExpiredHandles(nowMs: number): Promise<HandleReservation[]> {
    const expired: HandleReservation[] = [];
    for (let top = this.handleExpiry.peek(); top && top.expiresAt <= nowMs; top = this.handleExpiry.peek()) {
      this.handleExpiry.pop();
      if (this.handles.get(top.handle) !== top) continue; // released, consumed or reserved anew since
      this.dropHandle(top);
      expired.push({ ...top });
    }
    return expired;
  }

  private dropHandle(h: HandleReservation): void {
    this.handles.delete(h.handle);
    removeFrom(this.handlesBySession, h.sessionId, h.handle);
  }

  // ---------------------------------------------------------------- queue

  async enqueue(r: QueueRequest): Promise<QueueVersion> {
    // The same id again (the server never does it) replaces the waiting request and goes to the end.
    const old = this.waiting.get(r.requestId);
    if (old) this.removeWaiting(old);
    const w: Waiting = { request: { ...r }, seq: this.nextSeq++ };
    this.waiting.set(r.requestId, w);
    this.queue.push(w);
    this.requestByTokenHash.set(r.tokenHash, r.requestId);
    if (r.offlineSince !== null) this.offlineRequests.add(r.requestId);
    return this.bumpQueue();
  }

  async findRequestByTokenHash(tokenHash: string): Promise<QueueRequest | null> {
    const id = this.requestByTokenHash.get(tokenHash);
    const w = id === undefined ? undefined : this.waiting.get(id);
    return w ? { ...w.request } : null;
  }

  async listQueue(): Promise<QueueRequest[]> {
    return this.queue.map((w) => ({ ...w.request }));
  }

  async queueWindow(limit: number): Promise<QueueVersion & { requests: QueueRequest[] }> {
    return {
      version: this.queueVersion,
      count: this.queue.length,
      requests: this.queue.slice(0, Math.max(0, limit)).map((w) => ({ ...w.request })),
    };
  }

  async queuePosition(requestId: string): Promise<{ position: number; version: number } | null> {
    const w = this.waiting.get(requestId);
    return w ? { position: this.queueIndex(w) + 1, version: this.queueVersion } : null;
  }

  async queueOrder(): Promise<{ version: number; requestIds: string[] }> {
    return { version: this.queueVersion, requestIds: this.queue.map((w) => w.request.requestId) };
  }

  async claimRequest(requestId: string, head = 0): Promise<(QueueVersion & { request: QueueRequest; next: QueueRequest | null }) | null> {
    const w = this.waiting.get(requestId);
    if (!w) return null;
    const wasInHead = this.queueIndex(w) < head;
    this.removeWaiting(w);
    const next = wasInHead ? this.queue[head - 1] : undefined;
    return { request: { ...w.request }, ...this.bumpQueue(), next: next ? { ...next.request } : null };
  }

  async setRequestOffline(requestId: string, offlineSince: number | null): Promise<void> {
    this.markOffline(requestId, offlineSince);
  }

  /** Synchronous, so that hold and release change the holds and the flag in one step. */
  private markOffline(requestId: string, offlineSince: number | null): void {
    const w = this.waiting.get(requestId);
    if (!w) return;
    w.request.offlineSince = offlineSince;
    if (offlineSince === null) this.offlineRequests.delete(requestId);
    else this.offlineRequests.add(requestId);
  }

  /** In queue order. */
  async listOfflineRequests(): Promise<QueueRequest[]> {
    return [...this.offlineRequests]
      .map((id) => this.waiting.get(id)!)
      .sort((a, b) => a.seq - b.seq)
      .map((w) => ({ ...w.request }));
  }

  private bumpQueue(): QueueVersion {
    return { version: ++this.queueVersion, count: this.queue.length };
  }

  /** Where a waiting request is in `queue`: a binary search on its sequence number. */
  private queueIndex(w: Waiting): number {
    const i = lowerBound(this.queue, bySeq, w.seq);
    if (this.queue[i] !== w) throw new Error(`queue index out of step: ${w.request.requestId}`);
    return i;
  }

  private removeWaiting(w: Waiting): void {
    const id = w.request.requestId;
    this.queue.splice(this.queueIndex(w), 1);
    this.waiting.delete(id);
    if (this.requestByTokenHash.get(w.request.tokenHash) === id) this.requestByTokenHash.delete(w.request.tokenHash);
    this.offlineRequests.delete(id);
    for (const connectionId of this.requestHolds.get(id) ?? []) removeFrom(this.holdsByNode, nodeOf(connectionId), holdKey(id, connectionId));
    this.requestHolds.delete(id);
  }

  async holdRequest(requestId: string, connectionId: string): Promise<void> {
    if (!this.waiting.has(requestId)) return;
    addTo(this.requestHolds, requestId, connectionId);
    addTo(this.holdsByNode, nodeOf(connectionId), holdKey(requestId, connectionId));
    this.markOffline(requestId, null);
  }

  async releaseRequest(requestId: string, connectionId: string, nowMs: number): Promise<number> {
    const held = this.requestHolds.get(requestId)?.has(connectionId) ?? false;
    removeFrom(this.requestHolds, requestId, connectionId);
    removeFrom(this.holdsByNode, nodeOf(connectionId), holdKey(requestId, connectionId));
    const left = this.requestHolds.get(requestId)?.size ?? 0;
    if (held && left === 0) this.markOffline(requestId, nowMs);
    return left;
  }

  async listNodeRequestHolds(nodeId: string): Promise<{ requestId: string; connectionId: string }[]> {
    return [...(this.holdsByNode.get(nodeId) ?? [])].map((key) => {
      const [requestId, connectionId] = key.split('\n') as [string, string];
      return { requestId, connectionId };
    });
  }

  // ---------------------------------------------------------------- sessions

  async createSession(s: SessionRecord, participants: ParticipantRecord[]): Promise<void> {
    const old = this.sessions.get(s.sessionId);
    if (old) this.unindexSession(old);
    const rec = { ...s };
    this.sessions.set(rec.sessionId, rec);
    this.indexSession(rec);
    for (const p of participants) this.putParticipantRecord(p);
  }

  async getSession(sessionId: string): Promise<SessionRecord | null> {
    const s = this.sessions.get(sessionId);
    return s ? { ...s } : null;
  }

  async setOfflineSince(sessionId: string, role: 'agent' | 'customer', since: number | null): Promise<void> {
    const s = this.sessions.get(sessionId);
    if (!s) return;
    if (role === 'agent') s.agentOfflineSince = since;
    else s.customerOfflineSince = since;
    if (s.state !== 'active') return;
    if (inGrace(s)) this.sessionsInGrace.add(sessionId);
    else this.sessionsInGrace.delete(sessionId);
  }

  async setLobby(sessionId: string, enabled: boolean): Promise<void> {
    const s = this.sessions.get(sessionId);
    if (s) s.lobby = enabled;
  }

  async endSession(sessionId: string, reason: EndReason, nowMs: number): Promise<SessionRecord | null> {
    const s = this.sessions.get(sessionId);
    if (!s || s.state !== 'active') return null;
    this.unindexSession(s);
    s.state = 'ended';
    s.endedAt = nowMs;
    s.endReason = reason;
    this.indexSession(s);
    return { ...s };
  }

  async listActiveSessions(): Promise<SessionRecord[]> {
    return [...this.activeSessions].map((id) => ({ ...this.sessions.get(id)! }));
  }

  async listSessionsInGrace(): Promise<SessionRecord[]> {
    return [...this.sessionsInGrace].map((id) => ({ ...this.sessions.get(id)! }));
  }

  async listAgentSessions(agentName: string): Promise<SessionRecord[]> {
    return [...(this.agentSessions.get(agentName) ?? [])]
      .map((id) => ({ ...this.sessions.get(id)! }))
      .sort((a, b) => a.startedAt - b.startedAt);
  }

  async purgeEndedSessions(beforeMs: number): Promise<number> {
    const gone = this.ended.splice(0, lowerBound(this.ended, byEnd, beforeMs));
    for (const { sessionId } of gone) {
      this.sessions.delete(sessionId);
      for (const pid of this.participantsBySession.get(sessionId) ?? []) this.participants.delete(pid);
      this.participantsBySession.delete(sessionId);
      for (const hash of this.credentialsBySession.get(sessionId) ?? []) this.credentials.delete(hash);
      this.credentialsBySession.delete(sessionId);
    }
    return gone.length;
  }

  private indexSession(s: SessionRecord): void {
    if (s.state === 'active') {
      this.activeSessions.add(s.sessionId);
      addTo(this.agentSessions, s.agentName, s.sessionId);
      if (inGrace(s)) this.sessionsInGrace.add(s.sessionId);
    } else {
      const endedAt = s.endedAt ?? 0;
      // After any that ended at the same time: ties stay in end order.
      const at = lowerBound(this.ended, byEnd, endedAt, true);
      this.ended.splice(at, 0, { sessionId: s.sessionId, endedAt });
    }
  }

  private unindexSession(s: SessionRecord): void {
    if (s.state === 'active') {
      this.activeSessions.delete(s.sessionId);
      removeFrom(this.agentSessions, s.agentName, s.sessionId);
      this.sessionsInGrace.delete(s.sessionId);
    } else {
      const endedAt = s.endedAt ?? 0;
      for (let i = lowerBound(this.ended, byEnd, endedAt); i < this.ended.length && this.ended[i]!.endedAt === endedAt; i++) {
        if (this.ended[i]!.sessionId !== s.sessionId) continue;
        this.ended.splice(i, 1);
        break;
      }
    }
  }

  // ---------------------------------------------------------------- participants

  async putParticipant(p: ParticipantRecord): Promise<void> {
    this.putParticipantRecord(p);
  }

  async getParticipant(participantId: string): Promise<ParticipantRecord | null> {
    const p = this.participants.get(participantId);
    return p ? copyParticipant(p) : null;
  }

  async addParticipantKey(participantId: string, key: string, max: number): Promise<'added' | 'known' | 'full' | 'not_found'> {
    const p = this.participants.get(participantId);
    if (!p) return 'not_found';
    const keys = p.keys ?? [];
    if (keys.includes(key)) return 'known';
    if (keys.length >= max) return 'full';
    p.keys = [...keys, key];
    return 'added';
  }

  async listParticipants(sessionId: string): Promise<ParticipantRecord[]> {
    return [...(this.participantsBySession.get(sessionId) ?? [])]
      .map((id) => copyParticipant(this.participants.get(id)!))
      .sort((a, b) => a.joinedAt - b.joinedAt);
  }

  async setParticipantState(participantId: string, state: ParticipantRecord['state'], from?: ParticipantRecord['state']): Promise<boolean> {
    const p = this.participants.get(participantId);
    if (!p || (from !== undefined && p.state !== from)) return false;
    p.state = state;
    return true;
  }

  private putParticipantRecord(p: ParticipantRecord): void {
    const old = this.participants.get(p.participantId);
    if (old && old.sessionId !== p.sessionId) removeFrom(this.participantsBySession, old.sessionId, p.participantId);
    this.participants.set(p.participantId, copyParticipant(p));
    addTo(this.participantsBySession, p.sessionId, p.participantId);
  }

  // ---------------------------------------------------------------- credentials

  async putCredential(hash: string, c: CredentialRecord): Promise<void> {
    this.putCredentialRecord(hash, c);
  }

  private putCredentialRecord(hash: string, c: CredentialRecord): void {
    const old = this.credentials.get(hash);
    if (old && old.sessionId !== c.sessionId) removeFrom(this.credentialsBySession, old.sessionId, hash);
    this.credentials.set(hash, { ...c });
    addTo(this.credentialsBySession, c.sessionId, hash);
  }

  async getCredential(hash: string): Promise<CredentialRecord | null> {
    const c = this.credentials.get(hash);
    return c ? { ...c } : null;
  }

  async revokeCredentials(
    filter: { sessionId: string; participantId?: string },
    because: RevokedBecause,
  ): Promise<number> {
    let n = 0;
    for (const hash of this.credentialsBySession.get(filter.sessionId) ?? []) {
      const c = this.credentials.get(hash)!;
      if (c.revoked) continue;
      if (filter.participantId && c.participantId !== filter.participantId) continue;
      c.revoked = because;
      n++;
    }
    return n;
  }

  // ---------------------------------------------------------------- peers

  async putPeer(p: PeerRecord): Promise<void> {
    const old = this.peers.get(p.peerId);
    if (old && old.sessionId !== p.sessionId) removeFrom(this.peersBySession, old.sessionId, p.peerId);
    if (old?.connectionId) removeFrom(this.peersByNode, nodeOf(old.connectionId), p.peerId);
    if (p.connectionId) addTo(this.peersByNode, nodeOf(p.connectionId), p.peerId);
    this.peers.set(p.peerId, { ...p });
    addTo(this.peersBySession, p.sessionId, p.peerId);
    if (p.connectionId === null) this.awayPeers.add(p.peerId);
    else this.awayPeers.delete(p.peerId);
  }

  async getPeer(peerId: string): Promise<PeerRecord | null> {
    const p = this.peers.get(peerId);
    return p ? { ...p } : null;
  }

  async markPeerAway(peerId: string, connectionId: string, nowMs: number): Promise<PeerRecord | null> {
    const p = this.peers.get(peerId);
    if (!p || p.connectionId !== connectionId) return null;
    removeFrom(this.peersByNode, nodeOf(connectionId), peerId);
    p.connectionId = null;
    p.disconnectedAt = nowMs;
    this.awayPeers.add(peerId);
    return { ...p };
  }

  async deletePeerIfAway(peerId: string, disconnectedAt: number): Promise<PeerRecord | null> {
    const p = this.peers.get(peerId);
    if (!p || p.connectionId !== null || p.disconnectedAt !== disconnectedAt) return null;
    return this.deletePeer(peerId);
  }

  async listAwayPeers(): Promise<PeerRecord[]> {
    return [...this.awayPeers].map((id) => ({ ...this.peers.get(id)! }));
  }

  async deletePeer(peerId: string): Promise<PeerRecord | null> {
    const p = this.peers.get(peerId);
    if (!p) return null;
    this.peers.delete(peerId);
    removeFrom(this.peersBySession, p.sessionId, peerId);
    if (p.connectionId) removeFrom(this.peersByNode, nodeOf(p.connectionId), peerId);
    this.awayPeers.delete(peerId);
    return { ...p };
  }

  async listPeers(sessionId: string): Promise<PeerRecord[]> {
    return [...(this.peersBySession.get(sessionId) ?? [])].map((id) => ({ ...this.peers.get(id)! }));
  }

  async listNodePeers(nodeId: string): Promise<PeerRecord[]> {
    return [...(this.peersByNode.get(nodeId) ?? [])].map((id) => ({ ...this.peers.get(id)! }));
  }

  // ---------------------------------------------------------------- nodes and turns

  async renewNodeLease(nodeId: string, expiresAt: number): Promise<boolean> {
    const held = this.nodeLeases.has(nodeId);
    this.nodeLeases.set(nodeId, expiresAt);
    return held;
  }

  async dropNodeLease(nodeId: string): Promise<void> {
    this.nodeLeases.delete(nodeId);
  }

  /** One process has one node, so this map has a handful of entries: a scan is fine. */
  async takeExpiredNodes(nowMs: number): Promise<string[]> {
    const out: string[] = [];
    for (const [nodeId, expiresAt] of this.nodeLeases) {
      if (expiresAt > nowMs) continue;
      this.nodeLeases.delete(nodeId);
      this.reaping.add(nodeId);
      out.push(nodeId);
    }
    return out;
  }

  async listReapingNodes(): Promise<string[]> {
    return [...this.reaping];
  }

  async finishReaping(nodeId: string): Promise<void> {
    this.reaping.delete(nodeId);
  }

  async takeTurn(name: string, owner: string, nowMs: number, forMs: number): Promise<boolean> {
    const turn = this.turns.get(name);
    if (turn && turn.owner !== owner && turn.until > nowMs) return false;
    this.turns.set(name, { owner, until: nowMs + forMs });
    return true;
  }

  // ---------------------------------------------------------------- agent tokens

  async putAgentToken(hash: string, t: AgentTokenRecord): Promise<void> {
    this.agentTokens.set(hash, { ...t });
  }

  async getAgentToken(hash: string, nowMs: number): Promise<AgentTokenRecord | null> {
    const t = this.agentTokens.get(hash);
    if (!t) return null;
    if (t.expiresAt <= nowMs) {
      this.agentTokens.delete(hash);
      return null;
    }
    return { ...t };
  }

  async deleteAgentToken(hash: string): Promise<void> {
    this.agentTokens.delete(hash);
  }
}

const copyParticipant = (p: ParticipantRecord): ParticipantRecord => ({ ...p, ...(p.keys ? { keys: [...p.keys] } : {}) });

const inGrace = (s: SessionRecord): boolean => s.agentOfflineSince !== null || s.customerOfflineSince !== null;

function addTo(index: Map<string, Set<string>>, key: string, id: string): void {
  const ids = index.get(key);
  if (ids) ids.add(id);
  else index.set(key, new Set([id]));
}

function removeFrom(index: Map<string, Set<string>>, key: string, id: string): void {
  const ids = index.get(key);
  if (!ids) return;
  ids.delete(id);
  if (ids.size === 0) index.delete(key);
}

const holdKey = (requestId: string, connectionId: string) => `${requestId}\n${connectionId}`;

const bySeq = (w: Waiting) => w.seq;
const byEnd = (e: Ended) => e.endedAt;

/** In `items`, sorted by `key`: the first index whose key is at or after `t` (with `after`, strictly after). */
function lowerBound<T>(items: readonly T[], key: (item: T) => number, t: number, after = false): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const k = key(items[mid]!);
    if (k < t || (after && k === t)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A binary min-heap on a numeric key. */
class MinHeap<T> {
  private items: T[] = [];

  constructor(private readonly key: (item: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    this.items.push(item);
    this.up(this.items.length - 1);
  }

  pop(): T | undefined {
    const top = this.items[0];
    const last = this.items.pop();
    if (this.items.length > 0 && last !== undefined) {
      this.items[0] = last;
      this.down(0);
    }
    return top;
  }

  /** Replace the contents (Floyd's heapify, linear). */
  rebuild(items: Iterable<T>): void {
    this.items = [...items];
    for (let i = (this.items.length >>> 1) - 1; i >= 0; i--) this.down(i);
  }

  private up(i: number): void {
    const { items, key } = this;
    const item = items[i]!;
    const k = key(item);
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if (key(items[parent]!) <= k) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  private down(i: number): void {
    const { items, key } = this;
    const n = items.length;
    const item = items[i]!;
    const k = key(item);
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && key(items[child + 1]!) < key(items[child]!)) child++;
      if (key(items[child]!) >= k) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = item;
  }
}
