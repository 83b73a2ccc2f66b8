#!/usr/bin/env node
// What the media slots cost at join time (decision 0011): every peer connection of the product gets
// one audio and one video transceiver, so that voice and screen sharing start and stop by
// replaceTrack, never by a renegotiation when someone clicks. Here, in one Chromium page, pairs of
// RTCPeerConnections connect over loopback host candidates, alternately (a) data channel only, then
// the slots added by one renegotiation, as lib/p2p/peer.ts does a second after a connection opens,
// and (b) the slots in the first offer. Measured: offer and answer sizes (what signaling carries),
// createOffer → data channel open on both sides, the renegotiation, and replaceTrack (voice start).
//
//   node bench/media-slots.mjs        (BENCH_SLOT_REPS, default 40)
import { cleanup, launchBrowser, summarize } from './harness.mjs';

const REPS = Number(process.env.BENCH_SLOT_REPS ?? 40);

export async function measureMediaSlots({ reps = REPS, log = console.log } = {}) {
  const browser = await launchBrowser();
  const page = await browser.newPage();
  // A secure context for getUserMedia: a page of our own on 127.0.0.1.
  await page.route('http://127.0.0.1:9/bench', (r) => r.fulfill({ body: '<!doctype html><title>slots</title>', contentType: 'text/html' }));
  await page.goto('http://127.0.0.1:9/bench');
  const rounds = await page.evaluate(async (reps) => {
    const mic = (await navigator.mediaDevices.getUserMedia({ audio: true })).getAudioTracks()[0];
    async function pair(slots) {
      const a = new RTCPeerConnection();
      const b = new RTCPeerConnection();
      a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
      b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
      const t0 = performance.now();
      const ch = a.createDataChannel('d');
      if (slots) {
        a.addTransceiver('audio', { direction: 'sendrecv' });
        a.addTransceiver('video', { direction: 'sendrecv' });
        b.addEventListener('track', (e) => {
          if (e.transceiver.direction === 'recvonly') e.transceiver.direction = 'sendrecv';
        });
      }
      const open = Promise.all([
        new Promise((r) => (ch.onopen = r)),
        new Promise((r) => (b.ondatachannel = (e) => (e.channel.readyState === 'open' ? r() : (e.channel.onopen = r)))),
      ]);
      const offer = await a.createOffer();
      await a.setLocalDescription(offer);
      await b.setRemoteDescription(offer);
      const answer = await b.createAnswer();
      await b.setLocalDescription(answer);
      await a.setRemoteDescription(answer);
      await open;
      const connectMs = performance.now() - t0;
      const out = { slots, offerBytes: offer.sdp.length, answerBytes: answer.sdp.length, connectMs };
      if (!slots) {
        // What the product does (decision 0011): the slots come later, in one renegotiation.
        const t1 = performance.now();
        const tracked = new Promise((r) => b.addEventListener('track', r, { once: true }));
        b.addEventListener('track', (e) => {
          if (e.transceiver.direction === 'recvonly') e.transceiver.direction = 'sendrecv';
        });
        a.addTransceiver('audio', { direction: 'sendrecv' });
        a.addTransceiver('video', { direction: 'sendrecv' });
        const o = await a.createOffer();
        await a.setLocalDescription(o);
        await b.setRemoteDescription(o);
        await tracked;
        const ans = await b.createAnswer();
        await b.setLocalDescription(ans);
        await a.setRemoteDescription(ans);
        out.addSlotsMs = performance.now() - t1;
        out.addSlotsBytes = o.sdp.length + ans.sdp.length;
      }
      // Voice on a slot: replaceTrack, no signaling at all.
      const t2 = performance.now();
      await a.getTransceivers().find((t) => t.receiver.track.kind === 'audio').sender.replaceTrack(mic);
      out.startVoiceMs = performance.now() - t2;
      a.close();
      b.close();
      return out;
    }
    const rows = [];
    for (let i = 0; i < reps; i++) {
      rows.push(await pair(i % 2 === 0));
      rows.push(await pair(i % 2 !== 0));
    }
    mic.stop();
    return rows;
  }, reps);
  const pick = (slots, key) => rounds.filter((r) => r.slots === slots).map((r) => r[key]);
  const result = {};
  for (const slots of [false, true]) {
    const k = slots ? 'withSlots' : 'dataOnly';
    result[k] = {
      offerBytes: summarize(pick(slots, 'offerBytes')),
      answerBytes: summarize(pick(slots, 'answerBytes')),
      connectMs: summarize(pick(slots, 'connectMs')),
      startVoiceMs: summarize(pick(slots, 'startVoiceMs')),
      ...(slots ? {} : { addSlotsMs: summarize(pick(slots, 'addSlotsMs')), addSlotsBytes: summarize(pick(slots, 'addSlotsBytes')) }),
    };
  }
  await browser.close();
  log(`media slots (${reps * 2} pairs each way, loopback, one page):`);
  const row = (label, d) =>
    log(
      `  ${label.padEnd(22)} offer ${d.offerBytes.median} B, answer ${d.answerBytes.median} B, connect median ${d.connectMs.median} ms (p90 ${d.connectMs.p90}), voice start median ${d.startVoiceMs.median} ms (p90 ${d.startVoiceMs.p90})`,
    );
  row('slots added later', result.dataOnly);
  row('slots in first offer', result.withSlots);
  log(
    `  adding the slots to an open connection (off the join path): median ${result.dataOnly.addSlotsMs.median} ms (p90 ${result.dataOnly.addSlotsMs.p90}), ${result.dataOnly.addSlotsBytes.median} B of SDP both ways`,
  );
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  measureMediaSlots()
    .then((r) => console.log(JSON.stringify(r, null, 1)))
    .catch((e) => {
      console.error(e);
      process.exitCode = 1;
    })
    .finally(() => void cleanup());
}
