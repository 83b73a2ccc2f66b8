/**
 * A modified page inside a session (docs/threat-model.md, "A hostile peer"): a real participant whose
 * tab lets the test write raw bytes on its WebRTC data channels. Everything comes from the outside of
 * the product: the channels are caught as the page makes them (an init script), the participant's own
 * key is read from the tab's sessionStorage and its copy of the document from its IndexedDB, and the
 * messages are made here with the wire format of lib/p2p (y-protocols sync and awareness, our frames).
 */
import type { Page } from '@playwright/test';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { frames } from '../../../lib/p2p/framing';
import { type Signer } from '../../../lib/collab/authorship';
import { pageSigner, readLocalCopy } from './large-session';
import { watchChannels } from './network';


/** Catch every data channel the context's pages open or accept. Before goto. */
export const catchChannels = watchChannels;

/** Sends each message (framed as lib/p2p does) on every open channel of the page; returns how many channels. */
export async function sendRaw(page: Page, messages: Uint8Array[], opts: { framed?: boolean } = {}): Promise<number> {
  const wire = messages.flatMap((m) => (opts.framed === false ? [m] : [...frames(m)])).map((f) => Buffer.from(f).toString('base64'));
  return page.evaluate((b64) => {
    const open = (window.__channels?.channels ?? []).filter((c) => c.readyState === 'open');
    for (const ch of open) for (const f of b64) ch.send(Uint8Array.from(atob(f), (c) => c.charCodeAt(0)));
    return open.length;
  }, wire);
}

/** Channels of the page that have closed so far (the other side cut it off, or it went). */
export async function closedChannels(page: Page): Promise<number> {
  return page.evaluate(() => window.__channels?.closed ?? 0);
}

/** Channels of the page that are open now. */
export async function openChannels(page: Page): Promise<number> {
  return page.evaluate(() => (window.__channels?.channels ?? []).filter((c) => c.readyState === 'open').length);
}

const MESSAGE_SYNC = 0;
const MESSAGE_AWARENESS = 1;
const SYNC_UPDATE = 2;

/** A y-protocols sync "update" message carrying `update`. */
export function updateMessage(update: Uint8Array): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, MESSAGE_SYNC);
  encoding.writeVarUint(e, SYNC_UPDATE);
  encoding.writeVarUint8Array(e, update);
  return encoding.toUint8Array(e);
}

/** An awareness message with the given states (client id, clock, state). */
export function awarenessMessage(states: { clientId: number; clock: number; state: unknown }[]): Uint8Array {
  const inner = encoding.createEncoder();
  encoding.writeVarUint(inner, states.length);
  for (const s of states) {
    encoding.writeVarUint(inner, s.clientId);
    encoding.writeVarUint(inner, s.clock);
    encoding.writeVarString(inner, JSON.stringify(s.state));
  }
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, MESSAGE_AWARENESS);
  encoding.writeVarUint8Array(e, encoding.toUint8Array(inner));
  return encoding.toUint8Array(e);
}

export interface HostileKit {
  /** The hostile participant's own signer (its real key, read from its tab). */
  signer: Signer;
  /** A copy of the session document as the hostile tab holds it (its IndexedDB copy). */
  doc: Y.Doc;
  /** Participant ids by what the transcript says they joined as. */
  ids: { agent: string; customer: string; self: string };
  /** Runs `change` on the copy and returns the Yjs update it made, ready to send. */
  craft(change: (doc: Y.Doc) => void): Uint8Array;
}

export async function hostileKit(page: Page, sessionId: string): Promise<HostileKit> {
  const signer = await pageSigner(page, sessionId);
  const doc = await readLocalCopy(page, sessionId);
  const joined = doc
    .getArray<{ by?: string; text?: string; event?: string }>('transcript')
    .toArray()
    .filter((e) => e?.event === 'joined');
  const by = (re: RegExp) => joined.find((e) => re.test(e.text ?? ''))?.by;
  const agent = by(/ joined as agent$/);
  const customer = by(/ joined as customer$/);
  if (!agent || !customer) throw new Error('the hostile copy has not seen the agent and the customer join');
  return {
    signer,
    doc,
    ids: { agent, customer, self: signer.participantId },
    craft(change) {
      let made: Uint8Array | null = null;
      const keep = (u: Uint8Array) => (made = made ? Y.mergeUpdates([made, u]) : u);
      doc.on('update', keep);
      try {
        doc.transact(() => change(doc));
      } finally {
        doc.off('update', keep);
      }
      if (!made) throw new Error('the change made no update');
      return made;
    },
  };
}
