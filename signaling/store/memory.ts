/**
 * The embedded default: everything in this process's memory. Each method runs to completion on the
 * event loop before another starts, which is what makes every step atomic here.
 */
import type {
  AgentTokenRecord,
  CredentialRecord,
  HandleReservation,
  ParticipantRecord,
  PeerRecord,
  QueueRequest,
  RevokedBecause,
  SessionRecord,
  Store,
} from './types';
import type { EndReason } from '../../lib/protocol';

export class MemoryStore implements Store {
  private readonly handles = new Map<string, HandleReservation>();
  private readonly queue = new Map<string, QueueRequest>();
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly participants = new Map<string, ParticipantRecord>();
  private readonly credentials = new Map<string, CredentialRecord>();
  private readonly peers = new Map<string, PeerRecord>();
  /** Ids of peers whose connection is gone: the sweep looks at these only. */
  private readonly awayPeers = new Set<string>();
  private readonly agentTokens = new Map<string, AgentTokenRecord>();

  async reserveHandle(r: HandleReservation, nowMs: number): Promise<boolean> {
    const held = this.handles.get(r.handle);
    if (held && held.expiresAt > nowMs) return false;
    this.handles.set(r.handle, { ...r });
    return true;
  }

  async getHandle(handle: string, nowMs: number): Promise<HandleReservation | null> {
    const held = this.handles.get(handle);
    return held && held.expiresAt > nowMs ? { ...held } : null;
  }

  async consumeHandle(handle: string, nowMs: number): Promise<HandleReservation | null> {
    const held = this.handles.get(handle);
    if (!held) return null;
    this.handles.delete(handle);
    return held.expiresAt > nowMs ? held : null;
  }

  async releaseHandle(handle: string, sessionId: string): Promise<HandleReservation | null> {
    const held = this.handles.get(handle);
    if (!held || held.sessionId !== sessionId) return null;
    this.handles.delete(handle);
    return held;
  }

  async listSessionHandles(sessionId: string, nowMs: number): Promise<HandleReservation[]> {
    return [...this.handles.values()]
      .filter((h) => h.sessionId === sessionId && h.expiresAt > nowMs)
      .sort((a, b) => a.reservedAt - b.reservedAt)
      .map((h) => ({ ...h }));
  }

  async takeExpiredHandles(nowMs: number): Promise<HandleReservation[]> {
    const expired: HandleReservation[] = [];
    for (const [k, h] of this.handles) {
      if (h.expiresAt <= nowMs) {
        this.handles.delete(k);
        expired.push(h);
      }
    }
    return expired;
  }

  async enqueue(r: QueueRequest): Promise<void> {
    this.queue.set(r.requestId, { ...r });
  }

  async findRequestByTokenHash(tokenHash: string): Promise<QueueRequest | null> {
    for (const r of this.queue.values()) if (r.tokenHash === tokenHash) return { ...r };
    return null;
  }

  async listQueue(): Promise<QueueRequest[]> {
    return [...this.queue.values()].sort((a, b) => a.requestedAt - b.requestedAt).map((r) => ({ ...r }));
  }

  async claimRequest(requestId: string): Promise<QueueRequest | null> {
    const r = this.queue.get(requestId);
    if (!r) return null;
    this.queue.delete(requestId);
    return r;
  }

  async setRequestOffline(requestId: string, offlineSince: number | null): Promise<void> {
    const r = this.queue.get(requestId);
    if (r) r.offlineSince = offlineSince;
  }

  async createSession(s: SessionRecord, participants: ParticipantRecord[]): Promise<void> {
    this.sessions.set(s.sessionId, { ...s });
    for (const p of participants) this.participants.set(p.participantId, { ...p });
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
  }

  async setLobby(sessionId: string, enabled: boolean): Promise<void> {
    const s = this.sessions.get(sessionId);
    if (s) s.lobby = enabled;
  }

  async endSession(sessionId: string, reason: EndReason, nowMs: number): Promise<SessionRecord | null> {
    const s = this.sessions.get(sessionId);
    if (!s || s.state !== 'active') return null;
    s.state = 'ended';
    s.endedAt = nowMs;
    s.endReason = reason;
    return { ...s };
  }

  async listActiveSessions(): Promise<SessionRecord[]> {
    return [...this.sessions.values()].filter((s) => s.state === 'active').map((s) => ({ ...s }));
  }

  async listAgentSessions(agentName: string): Promise<SessionRecord[]> {
    return [...this.sessions.values()]
      .filter((s) => s.agentName === agentName && s.state === 'active')
      .sort((a, b) => a.startedAt - b.startedAt)
      .map((s) => ({ ...s }));
  }

  async purgeEndedSessions(beforeMs: number): Promise<number> {
    let purged = 0;
    for (const [id, s] of this.sessions) {
      if (s.state !== 'ended' || (s.endedAt ?? 0) >= beforeMs) continue;
      this.sessions.delete(id);
      for (const [pid, p] of this.participants) if (p.sessionId === id) this.participants.delete(pid);
      for (const [h, c] of this.credentials) if (c.sessionId === id) this.credentials.delete(h);
      purged++;
    }
    return purged;
  }

  async putParticipant(p: ParticipantRecord): Promise<void> {
    this.participants.set(p.participantId, copyParticipant(p));
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
    return [...this.participants.values()]
      .filter((p) => p.sessionId === sessionId)
      .sort((a, b) => a.joinedAt - b.joinedAt)
      .map(copyParticipant);
  }

  async setParticipantState(participantId: string, state: ParticipantRecord['state'], from?: ParticipantRecord['state']): Promise<boolean> {
    const p = this.participants.get(participantId);
    if (!p || (from !== undefined && p.state !== from)) return false;
    p.state = state;
    return true;
  }

  async putCredential(hash: string, c: CredentialRecord): Promise<void> {
    this.credentials.set(hash, { ...c });
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
    for (const c of this.credentials.values()) {
      if (c.sessionId !== filter.sessionId || c.revoked) continue;
      if (filter.participantId && c.participantId !== filter.participantId) continue;
      c.revoked = because;
      n++;
    }
    return n;
  }

  async putPeer(p: PeerRecord): Promise<void> {
    this.peers.set(p.peerId, { ...p });
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
    this.awayPeers.delete(peerId);
    return p;
  }

  async listPeers(sessionId: string): Promise<PeerRecord[]> {
    return [...this.peers.values()].filter((p) => p.sessionId === sessionId).map((p) => ({ ...p }));
  }

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
