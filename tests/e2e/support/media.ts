/**
 * Browser-test tools for voice and screen sharing (issue 8), from the outside of the product:
 *
 *  - `recordMedia`: keeps every track the page gets from getUserMedia / getDisplayMedia, so a test
 *    can see that the microphone was released (its track ended), as the browser's indicator would;
 *  - `voiceLevels`: how loud each voice the page plays is, measured with a WebAudio analyser of the
 *    test's own on the receiving page (what a listener would hear, not "a track exists");
 *  - `screenFrames`: the shared screen's video size and whether its frames advance.
 *
 * Chromium's fake microphone (--use-fake-device-for-media-stream) beeps about once a second, so a
 * voice "carries sound" when some reading within a window of a few beeps is loud.
 */
import { expect, type BrowserContext, type Page } from '@playwright/test';

declare global {
  interface Window {
    __media?: { mics: MediaStreamTrack[]; screens: MediaStreamTrack[]; screenRequests: number };
  }
}

export async function recordMedia(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const md = navigator.mediaDevices;
    if (!md) return;
    const kept = { mics: [] as MediaStreamTrack[], screens: [] as MediaStreamTrack[], screenRequests: 0 };
    window.__media = kept;
    const gum = md.getUserMedia.bind(md);
    md.getUserMedia = async (c?: MediaStreamConstraints) => {
      const s = await gum(c);
      kept.mics.push(...s.getAudioTracks());
      return s;
    };
    if (md.getDisplayMedia) {
      const gdm = md.getDisplayMedia.bind(md);
      md.getDisplayMedia = async (c?: DisplayMediaStreamOptions) => {
        kept.screenRequests++;
        const s = await gdm(c);
        kept.screens.push(...s.getVideoTracks());
        return s;
      };
    }
  });
}

/**
 * Every open connection of the page has its audio and video slot negotiated in both directions
 * (they are added a moment after a connection opens: lib/p2p/peer.ts). Needs instrumentRtc.
 */
export async function expectMediaSlots(page: Page, connections: number): Promise<void> {
  await expect
    .poll(() =>
      page.evaluate(() =>
        (window.__rtcProbe?.pcs ?? [])
          .filter((pc) => pc.connectionState === 'connected')
          .map((pc) =>
            pc
              .getTransceivers()
              .filter((t) => t.currentDirection === 'sendrecv')
              .map((t) => t.receiver.track.kind)
              .sort()
              .join('+'),
          ),
      ),
    )
    .toEqual(Array.from({ length: connections }, () => 'audio+video'));
}

/** readyState of every microphone track the page was given ('live' / 'ended'). */
export const micStates = (page: Page) => page.evaluate(() => (window.__media?.mics ?? []).map((t) => t.readyState));

/** The screen's own track: what the browser's "Stop sharing" bar ends. */
export const endScreenTrackAsBrowserWould = (page: Page) =>
  page.evaluate(() => {
    for (const t of window.__media?.screens ?? []) {
      t.stop();
      t.dispatchEvent(new Event('ended'));
    }
  });

/**
 * For each voice the page plays (its <audio data-voice-from> elements): the loudest RMS over
 * `windowMs`, keyed by the speaker's name. An element that is not playing (paused: autoplay refused,
 * or muted) counts as silent, whatever its stream carries: a listener would hear nothing.
 */
export async function voiceLevels(page: Page, windowMs = 2500): Promise<Record<string, number>> {
  return page.evaluate(async (windowMs) => {
    const ctx = new AudioContext();
    await ctx.resume().catch(() => {});
    const taps = [...document.querySelectorAll<HTMLAudioElement>('audio[data-voice-from]')].map((el) => {
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 1024;
      ctx.createMediaStreamSource(el.srcObject as MediaStream).connect(analyser);
      return { name: el.dataset.voiceName ?? '?', analyser, buf: new Float32Array(1024), max: 0, el };
    });
    const until = performance.now() + windowMs;
    while (performance.now() < until) {
      for (const t of taps) {
        if (t.el.paused || t.el.muted || t.el.volume === 0) continue;
        t.analyser.getFloatTimeDomainData(t.buf);
        let sum = 0;
        for (const v of t.buf) sum += v * v;
        t.max = Math.max(t.max, Math.sqrt(sum / t.buf.length));
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await ctx.close();
    return Object.fromEntries(taps.map((t) => [t.name, t.max]));
  }, windowMs);
}

/** Louder than this (RMS, full scale 1) is sound; Chromium's fake microphone beeps at about 0.2. */
const SOUND = 0.01;
/** Quieter than this over a whole window of beeps is silence. */
const SILENCE = 0.002;

/** Whom `page` hears with sound, and whom in silence, measured over a few beeps (names sorted). */
export async function hearing(page: Page): Promise<{ loud: string[]; silent: string[] }> {
  const levels = await voiceLevels(page);
  const names = Object.keys(levels).sort();
  return { loud: names.filter((n) => levels[n]! > SOUND), silent: names.filter((n) => levels[n]! < SILENCE) };
}

/** The video in region "Shared screen": its size, and frames decoded over `windowMs`. */
export async function screenFrames(page: Page, windowMs = 1000): Promise<{ width: number; height: number; framesAdvanced: number }> {
  return page.evaluate(async (windowMs) => {
    const region = [...document.querySelectorAll('section[aria-label="Shared screen"]')][0];
    const video = region?.querySelector('video');
    if (!video) return { width: 0, height: 0, framesAdvanced: 0 };
    const before = video.getVideoPlaybackQuality().totalVideoFrames;
    await new Promise((r) => setTimeout(r, windowMs));
    return { width: video.videoWidth, height: video.videoHeight, framesAdvanced: video.getVideoPlaybackQuality().totalVideoFrames - before };
  }, windowMs);
}

/**
 * What `page` receives as voice, where it cannot be listened to: headless Firefox here has no sound
 * device, so its AudioContext never starts and `voiceLevels` would wait forever. Instead: the audio
 * energy its connections decoded (inbound-rtp `totalAudioEnergy`, what would go to the speakers)
 * over `windowMs`, and the voices it plays (its <audio data-voice-from> elements that are not
 * paused or muted, by name). Needs instrumentRtc.
 */
export async function receivedVoice(page: Page, windowMs = 2500): Promise<{ energyPerSecond: number; playing: string[] }> {
  return page.evaluate(async (windowMs) => {
    const energy = async () => {
      let sum = 0;
      for (const pc of window.__rtcProbe?.pcs ?? []) {
        if (pc.connectionState !== 'connected') continue;
        (await pc.getStats()).forEach((r: { type: string; kind?: string; totalAudioEnergy?: number }) => {
          if (r.type === 'inbound-rtp' && r.kind === 'audio') sum += r.totalAudioEnergy ?? 0;
        });
      }
      return sum;
    };
    const before = await energy();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, windowMs));
    const perSecond = ((await energy()) - before) / ((performance.now() - t0) / 1000);
    const playing = [...document.querySelectorAll<HTMLAudioElement>('audio[data-voice-from]')]
      .filter((el) => !el.paused && !el.muted && el.volume > 0 && el.srcObject)
      .map((el) => el.dataset.voiceName ?? '?')
      .sort();
    return { energyPerSecond: perSecond, playing };
  }, windowMs);
}
