/**
 * C7 voice and C8 screen sharing for one participant's tab, peer to peer on the mesh's own
 * connections (decision 0011). Every connection gets an audio and a video slot a moment after it
 * opens (lib/p2p/peer.ts); this class only decides, for each open connection, which of our tracks its
 * slots send, and which of the others' tracks we play and show:
 *
 *  - our microphone goes to every peer whose tab says it is in voice, while we are in voice;
 *  - our screen goes to every peer, while ours is the share that counts (presence.ts `settledShare`);
 *  - we play the voice of every peer in voice, while we are in voice, and show the current share.
 *
 * Starting, muting, switching microphone or stopping is `replaceTrack` / `enabled` on the senders:
 * no offer, no answer, nothing that touches the data channel the document travels on.
 */
import type { Awareness } from 'y-protocols/awareness';
import type { Authorship } from '../collab/authorship';
import type { MediaLink } from '../p2p/mesh-provider';
import { readClaim } from '../p2p/topology';
import { LevelMeter } from './levels';
import { microphoneProblem, settledShare, remoteMedia, screenProblem, voiceViews, type RemoteMedia, type VoiceView } from './presence';

export interface MediaPort {
  /** The open connections (the mesh's `mediaLinks`). */
  links(): MediaLink[];
  /** Every peer signaling says is in the room → its participant (null: not told yet). */
  peers(): ReadonlyMap<string, string | null>;
  /** Called when the links may have changed. */
  onLinks(listener: () => void): () => void;
  awareness: Awareness;
  auth: Authorship;
  /** Who we are, once attached. */
  me(): { participantId: string; name: string } | null;
}

export interface Microphone {
  deviceId: string;
  label: string;
}

/** A remote voice we play: one per tab in voice that we have a connection to. */
export interface HeardVoice {
  peerId: string;
  participantId: string;
  stream: MediaStream;
}

export interface SharedScreenView {
  participantId: string;
  name: string;
  /** The video, when we have a direct connection to the sharer's tab; null: we cannot show it. */
  stream: MediaStream | null;
}

export interface MediaSnapshot {
  /** What this browser can do here (feature detection, checked once). */
  support: { voice: boolean; screen: boolean };
  voice: 'off' | 'starting' | 'on';
  muted: boolean;
  /** The microphones the browser lists (labels once permission was given). */
  microphones: Microphone[];
  microphoneId: string | null;
  /** Why voice did not start, or stopped (shown until the next try). */
  voiceProblem: string | null;
  heard: HeardVoice[];
  /** participant id → voice state, for the others in voice (ourselves not included). */
  voices: ReadonlyMap<string, VoiceView>;
  screen: 'off' | 'starting' | 'on';
  /** Our own screen while we share it (the sharer's preview). */
  ownScreen: MediaStream | null;
  /** Why sharing did not start, or stopped; or who else shares. */
  screenProblem: string | null;
  /** Someone else's share that counts now. */
  share: SharedScreenView | null;
}

const emptyMap = new Map<string, never>();

/** The media sessions of this tab that are in voice now (at most one: see joinVoice). */
const inVoice = new Set<MediaSession>();

function detectSupport(): MediaSnapshot['support'] {
  const md = typeof navigator === 'undefined' ? undefined : navigator.mediaDevices;
  const rtc =
    typeof RTCRtpSender !== 'undefined' &&
    'replaceTrack' in RTCRtpSender.prototype &&
    typeof RTCPeerConnection !== 'undefined' &&
    typeof RTCPeerConnection.prototype.addTransceiver === 'function';
  return {
    voice: rtc && typeof md?.getUserMedia === 'function',
    screen: rtc && typeof md?.getDisplayMedia === 'function',
  };
}

interface Slots {
  audio: RTCRtpTransceiver | null;
  video: RTCRtpTransceiver | null;
}

function slotsOf(pc: RTCPeerConnection): Slots {
  const slots: Slots = { audio: null, video: null };
  if (typeof pc.getTransceivers !== 'function' || pc.connectionState === 'closed') return slots;
  for (const t of pc.getTransceivers()) {
    if (t.currentDirection === 'stopped') continue;
    const kind = t.receiver.track?.kind;
    if (kind === 'audio' && !slots.audio) slots.audio = t;
    if (kind === 'video' && !slots.video) slots.video = t;
  }
  return slots;
}

export class MediaSession {
  private snap: MediaSnapshot;
  private readonly listeners = new Set<() => void>();
  private mic: MediaStreamTrack | null = null;
  private micStream: MediaStream | null = null;
  private screenStream: MediaStream | null = null;
  private screenSince = 0;
  /** When this tab first saw each share claim (its own: when it started), for `settledShare`. */
  private readonly shareSeen = new Map<string, number>();
  /** Another tab of our own participant shares a screen. */
  private otherTabShares = false;
  private meter: LevelMeter | null = null;
  private offMeter: (() => void) | null = null;
  /** What each sender was last told to send (replaceTrack settles later). */
  private readonly sending = new WeakMap<RTCRtpSender, MediaStreamTrack | null>();
  /** Connections we listen to: their slots arrive by a renegotiation after they open. */
  private readonly watchedLinks = new WeakSet<RTCPeerConnection>();
  /** One stream per receiving slot, so a re-render keeps playing the same element. */
  private readonly streams = new WeakMap<RTCRtpTransceiver, MediaStream>();
  private readonly offs: (() => void)[] = [];
  private syncQueued = false;
  private destroyed = false;

  constructor(private readonly port: MediaPort) {
    this.snap = {
      support: detectSupport(),
      voice: 'off',
      muted: false,
      microphones: [],
      microphoneId: null,
      voiceProblem: null,
      heard: [],
      voices: emptyMap,
      screen: 'off',
      ownScreen: null,
      screenProblem: null,
      share: null,
    };
    this.offs.push(port.onLinks(this.sync));
    this.offs.push(port.auth.subscribe(this.sync));
    port.awareness.on('change', this.sync);
    this.offs.push(() => port.awareness.off('change', this.sync));
    const md = typeof navigator === 'undefined' ? undefined : navigator.mediaDevices;
    if (md && typeof md.addEventListener === 'function') {
      const onDevices = () => void this.listMicrophones();
      md.addEventListener('devicechange', onDevices);
      this.offs.push(() => md.removeEventListener('devicechange', onDevices));
    }
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): MediaSnapshot => this.snap;

  /**
   * C7, who is speaking: participant id → loudness step (0.2 … 1) of those speaking now, ourselves
   * included. A store of its own: it changes several times a second while anyone talks, and only the
   * participant lines read it, not the whole view.
   */
  readonly speaking = {
    subscribe: (listener: () => void): (() => void) => {
      this.speakingListeners.add(listener);
      return () => this.speakingListeners.delete(listener);
    },
    get: (): ReadonlyMap<string, number> => this.speakingNow,
  };
  private speakingNow: ReadonlyMap<string, number> = emptyMap;
  private readonly speakingListeners = new Set<() => void>();

  private setSpeaking(levels: ReadonlyMap<string, number>): void {
    if (levels === this.speakingNow) return;
    this.speakingNow = levels;
    for (const l of this.speakingListeners) l();
  }

  /** The snapshot as it is now (after an await: a click may have changed it meanwhile). */
  private state(): MediaSnapshot {
    return this.snap;
  }

  private set(patch: Partial<MediaSnapshot>): void {
    this.snap = { ...this.snap, ...patch };
    for (const l of this.listeners) l();
  }

  // ------------------------------------------------------------------ voice (C7)

  /** "Join voice": asks for the microphone (call it from the click: audio may start only after a gesture). */
  async joinVoice(): Promise<void> {
    if (this.destroyed || this.snap.voice !== 'off') return;
    if (!this.snap.support.voice) {
      this.set({
        voiceProblem:
          'This browser cannot take part in voice here: it needs a current browser and a secure (https) address. The session carries on without voice.',
      });
      return;
    }
    // Made inside the click, so that it runs (Safari and Chrome start audio only after a gesture).
    let context: AudioContext | null = null;
    try {
      context = new AudioContext();
    } catch {
      context = null; // no levels shown; voice itself does not need it
    }
    this.set({ voice: 'starting', voiceProblem: null });
    let stream: MediaStream;
    try {
      // The microphone chosen last time if it is still there, any other one if not (unplugged).
      stream = await navigator.mediaDevices.getUserMedia({ audio: this.microphoneConstraints(this.snap.microphoneId, 'ideal') });
    } catch (err) {
      void context?.close().catch(() => {});
      if (!this.destroyed) this.set({ voice: 'off', voiceProblem: microphoneProblem(err) });
      return;
    }
    const track = stream.getAudioTracks()[0];
    if (this.destroyed || this.state().voice !== 'starting' || !track) {
      for (const t of stream.getTracks()) t.stop();
      void context?.close().catch(() => {});
      if (!track && !this.destroyed) this.set({ voice: 'off', voiceProblem: microphoneProblem({ name: 'NotFoundError' }) });
      return;
    }
    // One voice at a time per tab: an agent in voice with another customer leaves that voice, so that
    // customer does not hear this conversation.
    for (const other of inVoice) if (other !== this) other.leaveVoice('You joined voice in another session, so you left voice in this one.');
    inVoice.add(this);
    this.useMicrophone(stream, track);
    if (context) {
      this.meter = new LevelMeter(context);
      this.offMeter = this.meter.subscribe(() => this.setSpeaking(this.meter?.current ?? emptyMap));
    }
    this.set({ voice: 'on', muted: false });
    this.publish('voice', { muted: false });
    void this.listMicrophones();
    this.syncNow();
  }

  private microphoneConstraints(deviceId: string | null, how: 'exact' | 'ideal'): MediaTrackConstraints {
    return { echoCancellation: true, noiseSuppression: true, autoGainControl: true, ...(deviceId ? { deviceId: { [how]: deviceId } } : {}) };
  }

  private useMicrophone(stream: MediaStream, track: MediaStreamTrack): void {
    this.micStream = stream;
    this.mic = track;
    track.enabled = !this.snap.muted;
    track.addEventListener('ended', this.onMicrophoneEnded);
    this.set({ microphoneId: track.getSettings?.().deviceId ?? null });
  }

  /** The microphone went away (unplugged, or the browser revoked it): out of voice, and say why. */
  private readonly onMicrophoneEnded = () => {
    if (this.snap.voice !== 'on') return;
    // Next time, whichever microphone the browser offers.
    this.set({ microphoneId: null });
    this.leaveVoice('The microphone stopped (it was unplugged or the browser turned it off). Choose "Join voice" to start again.');
  };

  /** "Leave voice": the microphone is released (its track ended) and nobody hears us any more. */
  leaveVoice(problem: string | null = null): void {
    inVoice.delete(this);
    this.releaseMicrophone();
    this.offMeter?.();
    this.offMeter = null;
    this.meter?.close();
    this.meter = null;
    this.publish('voice', null);
    if (!this.destroyed) this.set({ voice: 'off', muted: false, voiceProblem: problem, heard: [] });
    this.setSpeaking(emptyMap);
    this.syncNow();
  }

  private releaseMicrophone(): void {
    this.mic?.removeEventListener('ended', this.onMicrophoneEnded);
    for (const t of this.micStream?.getTracks() ?? []) t.stop();
    this.mic = null;
    this.micStream = null;
  }

  /** "Mute" / "Unmute": the others hear silence; the microphone stays ours, so unmuting is instant. */
  setMuted(muted: boolean): void {
    if (this.snap.voice !== 'on' || !this.mic) return;
    this.mic.enabled = !muted;
    this.set({ muted });
    this.publish('voice', { muted });
  }

  /** Another microphone: taken first, then put on every connection, then the old one released. */
  async chooseMicrophone(deviceId: string): Promise<void> {
    if (this.snap.voice !== 'on' || deviceId === this.snap.microphoneId) return;
    // Some browsers (Safari on iOS) allow one capture at a time and end the old track when asked for
    // a new one: that is not the microphone going away.
    const old = this.mic;
    old?.removeEventListener('ended', this.onMicrophoneEnded);
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: this.microphoneConstraints(deviceId, 'exact') });
    } catch (err) {
      if (this.mic === old && old?.readyState === 'live') {
        old.addEventListener('ended', this.onMicrophoneEnded);
        this.set({ voiceProblem: `That microphone could not be used, so you are still in voice with the one before. (${microphoneProblem(err).split('.')[0]}.)` });
      } else if (this.state().voice === 'on') {
        this.leaveVoice(microphoneProblem(err));
      }
      return;
    }
    const track = stream.getAudioTracks()[0];
    if (this.state().voice !== 'on' || !track) {
      for (const t of stream.getTracks()) t.stop();
      return;
    }
    this.releaseMicrophone();
    this.useMicrophone(stream, track);
    this.set({ voiceProblem: null });
    void this.listMicrophones();
    this.syncNow();
  }

  /**
   * The real microphones (Chrome also lists "default" and "communications" aliases of one of them),
   * and which of them is in use: an alias resolves to the device of the same group.
   */
  private async listMicrophones(): Promise<void> {
    const md = navigator.mediaDevices;
    if (this.snap.voice !== 'on' || typeof md?.enumerateDevices !== 'function') return;
    try {
      const inputs = (await md.enumerateDevices()).filter((d) => d.kind === 'audioinput' && d.deviceId !== '');
      const aliases = new Set(['default', 'communications']);
      const real = inputs.filter((d) => !aliases.has(d.deviceId));
      const microphones = real.map((d, i) => ({ deviceId: d.deviceId, label: d.label || `Microphone ${i + 1}` }));
      const inUse = this.mic?.getSettings?.().deviceId ?? null;
      const alias = inputs.find((d) => d.deviceId === inUse && aliases.has(d.deviceId));
      const microphoneId = alias ? (real.find((d) => d.groupId === alias.groupId)?.deviceId ?? null) : inUse;
      if (!this.destroyed && this.snap.voice === 'on') this.set({ microphones, microphoneId });
    } catch {
      /* no list: the microphone in use stays */
    }
  }

  // ------------------------------------------------------------------ screen sharing (C8)

  /** "Share screen": one share at a time; someone else's share is named instead of asking for ours. */
  async shareScreen(): Promise<void> {
    if (this.destroyed || this.snap.screen !== 'off') return;
    if (!this.snap.support.screen) {
      this.set({ screenProblem: 'This browser cannot share its screen (phones and tablets cannot). The others can still share theirs.' });
      return;
    }
    if (this.otherTabShares) {
      this.set({ screenProblem: 'You are already sharing a screen from another tab or window of this session. Stop it there first.' });
      return;
    }
    const other = this.snap.share;
    if (other) {
      this.set({ screenProblem: `${other.name} is sharing a screen. One screen at a time: ask ${other.name} to stop sharing first.` });
      return;
    }
    this.set({ screen: 'starting', screenProblem: null });
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch (err) {
      if (!this.destroyed) this.set({ screen: 'off', screenProblem: screenProblem(err) });
      return;
    }
    const track = stream.getVideoTracks()[0];
    if (this.destroyed || this.state().screen !== 'starting' || !track) {
      for (const t of stream.getTracks()) t.stop();
      if (!this.destroyed) this.set({ screen: 'off' });
      return;
    }
    // Text and edges over motion: what a support session shares is mostly a screen of text.
    if ('contentHint' in track) track.contentHint = 'detail';
    // The browser's own "Stop sharing" ends the track: that ends the share for everyone too.
    track.addEventListener('ended', this.onScreenEnded);
    this.screenStream = stream;
    this.screenSince = Date.now();
    this.shareSeen.set(`${this.port.me()?.participantId}|${readClaim(this.port.awareness.getLocalState())?.peerId ?? ''}|${this.screenSince}`, performance.now());
    this.set({ screen: 'on', ownScreen: stream });
    this.publish('screen', { since: this.screenSince });
    this.syncNow();
  }

  private readonly onScreenEnded = () => this.stopSharing();

  /** "Stop sharing", the browser's own stop, or someone else's earlier share: ours ends everywhere. */
  stopSharing(problem: string | null = null): void {
    const stream = this.screenStream;
    this.screenStream = null;
    for (const t of stream?.getTracks() ?? []) {
      t.removeEventListener('ended', this.onScreenEnded);
      t.stop();
    }
    this.publish('screen', null);
    if (!this.destroyed) this.set({ screen: 'off', ownScreen: null, screenProblem: problem });
    this.syncNow();
  }

  /** The participant has read the message. */
  dismissProblem(which: 'voice' | 'screen'): void {
    if (which === 'voice' && this.snap.voiceProblem) this.set({ voiceProblem: null });
    if (which === 'screen' && this.snap.screenProblem) this.set({ screenProblem: null });
  }

  // ------------------------------------------------------------------ the connections

  private publish(field: 'voice' | 'screen', value: unknown): void {
    if (this.destroyed || !this.port.awareness.getLocalState()) return;
    this.port.awareness.setLocalStateField(field, value);
  }

  /** Links, presence or signatures changed: worked out once, after whatever else changes with them. */
  private readonly sync = () => {
    if (this.syncQueued || this.destroyed) return;
    this.syncQueued = true;
    queueMicrotask(() => {
      this.syncQueued = false;
      this.syncNow();
    });
  };

  private syncNow(): void {
    if (this.destroyed) return;
    const links = this.port.links();
    const me = this.port.me();
    const remote = remoteMedia(this.port.awareness.getStates() as Map<number, Record<string, unknown>>, this.port.awareness.clientID, this.port.auth);
    // Only tabs signaling admitted, under the participant signaling admitted them as; a peer id
    // claimed by two participants is trusted for neither.
    const admitted = this.port.peers();
    const byPeer = new Map<string, RemoteMedia | null>();
    for (const r of remote) {
      const participant = admitted.get(r.peerId);
      if (participant === undefined || (participant !== null && participant !== r.participantId)) continue;
      const seen = byPeer.get(r.peerId);
      byPeer.set(r.peerId, seen === undefined || seen?.participantId === r.participantId ? r : null);
    }
    const trusted = [...byPeer.values()].filter((r): r is RemoteMedia => r !== null);
    // Our own other tabs: no voice to or from them (one would hear oneself), their share is ours.
    const others = trusted.filter((r) => r.participantId !== me?.participantId);
    this.otherTabShares = trusted.some((r) => r.participantId === me?.participantId && r.screen !== null);

    // One share at a time: ours stops if an earlier one started within the contest window.
    const now = performance.now();
    const seen = (key: string) => {
      let at = this.shareSeen.get(key);
      if (at === undefined) this.shareSeen.set(key, (at = now));
      return at;
    };
    const selfPeerId = readClaim(this.port.awareness.getLocalState())?.peerId ?? '';
    const claims = others.flatMap((r) =>
      r.screen ? [{ participantId: r.participantId, peerId: r.peerId, since: r.screen.since, name: r.name, seenAt: seen(`${r.participantId}|${r.peerId}|${r.screen.since}`) }] : [],
    );
    const ours =
      this.screenStream && me
        ? { participantId: me.participantId, peerId: selfPeerId, since: this.screenSince, name: me.name, seenAt: seen(`${me.participantId}|${selfPeerId}|${this.screenSince}`) }
        : null;
    const live = new Set([...claims, ...(ours ? [ours] : [])].map((c) => `${c.participantId}|${c.peerId}|${c.since}`));
    for (const key of this.shareSeen.keys()) if (!live.has(key)) this.shareSeen.delete(key);
    const winner = settledShare(ours ? [...claims, ours] : claims);
    if (ours && winner && winner !== ours) {
      this.stopSharing(`${winner.name} started sharing a moment before you, so your share was stopped. One screen at a time.`);
      return;
    }
    const sharingNow = this.screenStream !== null;
    const screenTrack = sharingNow ? (this.screenStream!.getVideoTracks()[0] ?? null) : null;
    const inVoice = this.snap.voice === 'on' && this.mic !== null;

    const heard: HeardVoice[] = [];
    const linked = new Set<string>();
    let share: SharedScreenView | null = null;
    for (const link of links) {
      if (!this.watchedLinks.has(link.pc)) {
        this.watchedLinks.add(link.pc);
        // The slots are added a moment after the connection opens (lib/p2p/peer.ts): use them then.
        link.pc.addEventListener('signalingstatechange', this.sync);
      }
      const slots = slotsOf(link.pc);
      const r = byPeer.get(link.peerId) ?? undefined;
      // Heard once the audio slot is negotiated both ways (a second after the connection opens).
      if (slots.audio?.currentDirection === 'sendrecv') linked.add(link.peerId);
      const ownTab = r?.participantId === me?.participantId;
      this.send(slots.audio, inVoice && r?.voice && !ownTab ? this.mic : null);
      this.send(slots.video, screenTrack);
      if (inVoice && r?.voice && !ownTab && slots.audio) heard.push({ peerId: link.peerId, participantId: r.participantId, stream: this.streamOf(slots.audio) });
      if (!sharingNow && winner && r && winner.peerId === r.peerId && slots.video) {
        share = { participantId: r.participantId, name: r.name, stream: this.streamOf(slots.video) };
      }
    }
    if (!sharingNow && winner && !share) share = { participantId: winner.participantId, name: winner.name, stream: null };

    // Levels: ourselves and each voice heard.
    if (this.meter) {
      const wanted = new Map<string, MediaStream>();
      if (this.micStream && me) wanted.set(me.participantId, this.micStream);
      for (const h of heard) if (!wanted.has(h.participantId)) wanted.set(h.participantId, h.stream);
      for (const id of this.meter.watched()) if (!wanted.has(id)) this.meter.unwatch(id);
      for (const [id, stream] of wanted) this.meter.watch(id, stream);
    }

    const voices = voiceViews(others, linked, inVoice);
    const prev = this.snap;
    const heardKey = (list: HeardVoice[]) => list.map((h) => `${h.peerId}:${h.stream.id}`).join(',');
    const voicesKey = (m: ReadonlyMap<string, VoiceView>) => [...m].map(([id, v]) => `${id}:${v.muted}:${v.unheard}`).join(',');
    const shareKey = (s: SharedScreenView | null) => (s ? `${s.participantId}:${s.name}:${s.stream?.id ?? '-'}` : '');
    const patch: Partial<MediaSnapshot> = {};
    if (heardKey(prev.heard) !== heardKey(heard)) patch.heard = heard;
    if (voicesKey(prev.voices) !== voicesKey(voices)) patch.voices = voices;
    if (shareKey(prev.share) !== shareKey(share)) patch.share = share;
    if (Object.keys(patch).length > 0) this.set(patch);
  }

  private send(slot: RTCRtpTransceiver | null, track: MediaStreamTrack | null): void {
    if (!slot) return;
    const sender = slot.sender;
    const now = this.sending.has(sender) ? this.sending.get(sender)! : sender.track;
    if (now === track) return;
    this.sending.set(sender, track);
    // Fails only on a connection closing meanwhile: its replacement gets the track afresh.
    sender.replaceTrack(track).catch(() => this.sending.delete(sender));
  }

  private streamOf(slot: RTCRtpTransceiver): MediaStream {
    let stream = this.streams.get(slot);
    if (!stream) {
      stream = new MediaStream([slot.receiver.track]);
      this.streams.set(slot, stream);
    }
    return stream;
  }

  /** The session is over for us (ended, left, removed): microphone and screen released. */
  stopAll(): void {
    if (this.snap.voice !== 'off' || this.mic) this.leaveVoice();
    if (this.snap.screen !== 'off' || this.screenStream) this.stopSharing();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.stopAll();
    this.destroyed = true;
    for (const off of this.offs) off();
    this.listeners.clear();
    this.speakingListeners.clear();
  }
}
