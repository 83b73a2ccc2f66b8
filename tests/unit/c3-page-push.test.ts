/**
 * C3 page push: which addresses may be pushed, what a site's headers say about framing, and the
 * pushes in the shared document (validated when read, converging when pushed concurrently).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { parseWebAddress } from '../../features/page-push/address';
import { currentPage, MAX_PUSHES, pushesOf, pushHistory, pushPage, readPushes } from '../../features/page-push/doc';
import { checkFraming, framingFromHeaders } from '../../signaling/frame-check';
import { makeParties, settledRead, type TestParty } from '../support/authors';
import type { Authorship } from '../../lib/collab/authorship';

let n = 0;
const id = () => `push-${++n}`;
const sessionId = 'session-c3';
const { parties, viewer } = await makeParties(sessionId, [
  { participantId: 'agent-1', name: 'Dana', role: 'agent' },
  { participantId: 'cust-1', name: 'Iris', role: 'customer' },
  { participantId: 'guest-1', name: 'Mallory', role: 'guest' },
]);
const [agent, customer, guest] = parties as [TestParty, TestParty, TestParty];
const push = (d: Y.Doc, by: TestParty, url: string, at: number, framing: 'allowed' | 'refused' | 'unknown' = 'allowed') =>
  pushPage(d, by.signer, by.auth, { url, framing }, at, id);
/** What a participant with the session's directory sees once every signature is checked. */
const seen = (d: Y.Doc, auth: Authorship = viewer()) => settledRead(auth, () => readPushes(d, auth));

function sync(a: Y.Doc, b: Y.Doc) {
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)));
}

describe('[C3] which web addresses can be pushed', () => {
  it.each([
    ['https://example.com/help', 'https://example.com/help'],
    ['http://example.com', 'http://example.com/'],
    ['  HTTPS://Example.COM/a?b=c#d ', 'https://example.com/a?b=c#d'],
    ['example.com/help', 'https://example.com/help'],
    ['localhost:3000/help', 'https://localhost:3000/help'],
    ['http://127.0.0.1:8080/x', 'http://127.0.0.1:8080/x'],
  ])('accepts %s as %s', (typed, url) => {
    expect(parseWebAddress(typed)).toEqual({ ok: true, url });
  });

  it.each([
    ['javascript:alert(1)', /not "javascript:" addresses/],
    ['JavaScript:alert(document.cookie)', /not "javascript:" addresses/],
    ['data:text/html,<script>alert(1)</script>', /not "data:" addresses/],
    ['file:///etc/passwd', /not "file:" addresses/],
    ['ftp://example.com/file', /not "ftp:" addresses/],
    ['vbscript:msgbox', /not "vbscript:" addresses/],
    ['blob:https://example.com/1234', /not "blob:" addresses/],
    ['', /Type a web address/],
    ['   ', /Type a web address/],
    ['not an address', /not a web address/],
    ['hello', /not a web address/],
    ['https://', /not a web address/],
    ['https://user:secret@example.com/', /user name or password/],
    ['https://example.com/<script>', /not a web address/],
    [`https://example.com/${'a'.repeat(3000)}`, /at most 2048 characters/],
  ])('refuses %s with a message that says why', (typed, message) => {
    const r = parseWebAddress(typed);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });

  it('never accepts anything but an http(s) address, whatever is typed', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.webUrl(), fc.constantFrom('javascript:', 'data:', 'file:', 'JAVASCRIPT:', ' javascript:')).chain((s) => fc.tuple(fc.constant(s), fc.string())), ([a, b]) => {
        const r = parseWebAddress(a + b);
        if (r.ok) expect(new URL(r.url).protocol).toMatch(/^https?:$/);
      }),
    );
  });
});

describe('[C3] whether a site allows being framed', () => {
  const page = 'https://shop.example.com/help';
  const us = 'https://joinus.example.org';
  const h = (xFrameOptions: string | null, contentSecurityPolicy: string | null = null) => ({ xFrameOptions, contentSecurityPolicy });

  it.each([
    [h(null), 'allowed'],
    [h('DENY'), 'refused'],
    [h('sameorigin'), 'refused'],
    [h('ALLOW-FROM https://joinus.example.org'), 'allowed'],
    [h(null, "default-src 'self'"), 'allowed'],
    [h(null, "frame-ancestors 'none'"), 'refused'],
    [h(null, "frame-ancestors 'self'"), 'refused'],
    [h(null, 'frame-ancestors *'), 'allowed'],
    [h(null, 'frame-ancestors https:'), 'allowed'],
    [h(null, 'frame-ancestors https://joinus.example.org'), 'allowed'],
    [h(null, 'frame-ancestors https://*.example.org'), 'allowed'],
    [h(null, 'frame-ancestors https://other.example.org'), 'refused'],
    [h(null, "default-src 'self'; frame-ancestors joinus.example.org"), 'allowed'],
    // CSP frame-ancestors wins over X-Frame-Options (CSP Level 3).
    [h('DENY', 'frame-ancestors https://joinus.example.org'), 'allowed'],
    // Two policies: each must allow it.
    [h(null, "frame-ancestors *, frame-ancestors 'none'"), 'refused'],
  ])('%j → %s', (headers, verdict) => {
    expect(framingFromHeaders(headers, page, us)).toBe(verdict);
  });

  it('allows its own origin under SAMEORIGIN and self', () => {
    expect(framingFromHeaders(h('SAMEORIGIN'), 'https://joinus.example.org/help', us)).toBe('allowed');
    expect(framingFromHeaders(h(null, "frame-ancestors 'self'"), 'https://joinus.example.org/help', us)).toBe('allowed');
  });

  it('asks the site once, follows redirects, and says unknown when it cannot tell', async () => {
    const calls: string[] = [];
    const fake = (responses: Record<string, { status: number; headers: Record<string, string> }>) =>
      (async (url: string | URL | Request) => {
        const u = String(url);
        calls.push(u);
        const r = responses[u];
        if (!r) throw new TypeError('fetch failed');
        return new Response(null, { status: r.status, headers: r.headers });
      }) as typeof fetch;
    const f = fake({
      'https://a.example/': { status: 302, headers: { location: '/b' } },
      'https://a.example/b': { status: 200, headers: { 'x-frame-options': 'DENY' } },
      'https://c.example/': { status: 301, headers: { location: 'javascript:alert(1)' } },
    });
    expect((await checkFraming('https://a.example/', us, { fetch: f })).framing).toBe('refused');
    expect(calls).toEqual(['https://a.example/', 'https://a.example/b']);
    expect((await checkFraming('https://c.example/', us, { fetch: f })).framing).toBe('unknown');
    expect((await checkFraming('https://down.example/', us, { fetch: f })).framing).toBe('unknown');
    const loop = fake({ 'https://l.example/': { status: 302, headers: { location: '/' } } });
    expect((await checkFraming('https://l.example/', us, { fetch: loop, maxRedirects: 3 })).framing).toBe('unknown');
  });
});

describe('[C3] pushed pages in the shared document', () => {
  it('the current page is the latest push; a late joiner gets it with the history', async () => {
    const a = new Y.Doc();
    await push(a, agent, 'https://example.com/one', 1);
    await push(a, agent, 'https://example.com/two', 2, 'refused');
    await push(a, agent, 'https://example.com/one', 3);
    const late = new Y.Doc();
    sync(a, late);
    const pushes = await seen(late);
    expect(currentPage(pushes)?.url).toBe('https://example.com/one');
    expect(currentPage(pushes)).toMatchObject({ byId: 'agent-1', byName: 'Dana', role: 'agent' });
    expect(pushHistory(pushes).map((p) => [p.url, p.at])).toEqual([
      ['https://example.com/one', 3],
      ['https://example.com/two', 2],
    ]);
  });

  it('a push whose signature is still being checked is left out until the check is done', async () => {
    const d = new Y.Doc();
    await push(d, agent, 'https://example.com/one', 1);
    const auth = viewer();
    expect(readPushes(d, auth)).toEqual([]);
    await auth.settled();
    expect(readPushes(d, auth).map((p) => p.url)).toEqual(['https://example.com/one']);
  });

  it('refuses to write anything but an http(s) address', async () => {
    const d = new Y.Doc();
    await expect(push(d, agent, 'javascript:alert(1)', 1)).rejects.toThrow();
    expect(pushesOf(d).length).toBe(0);
  });

  it('drops what a hostile peer writes: other schemes, malformed entries, unknown framing, wrong types, huge numbers', async () => {
    const d = new Y.Doc();
    await push(d, agent, 'https://ok.example/fine', 1);
    const good = pushesOf(d).get(0) as unknown as Record<string, unknown>;
    pushesOf(d).push([
      { ...good, url: 'javascript:alert(1)' },
      { ...good, url: 'data:text/html,hi' },
      { ...good, id: 'y', framing: 'maybe' },
      { ...good, id: 'y', at: 1e300 },
      { ...good, id: 'y', at: Number.NaN },
      { ...good, id: 'y', seq: 1e300 },
      { ...good, id: 'y', seq: Number.NaN },
      { ...good, id: 'y', seq: -1 },
      { ...good, id: 'y', seq: 1.5 },
      { ...good, id: 'y', seq: '2' },
      { ...good, id: 42 },
      { ...good, by: null },
      { ...good, sig: 7 },
      { ...good, id: 'y', url: 'https://user:pw@ok.example/' },
      { ...good, id: 'y', url: 'HTTPS://OK.EXAMPLE' },
      'garbage',
      null,
      [1, 2],
      { ...good, id: 'x'.repeat(5000) },
    ] as never[]);
    expect((await seen(d)).map((p) => p.url)).toEqual(['https://ok.example/fine']);
  });

  it('a push by the customer or an invited party counts for nothing, even signed', async () => {
    const d = new Y.Doc();
    await push(d, agent, 'https://example.com/agent', 1);
    await push(d, customer, 'https://evil.example/customer', 2);
    await push(d, guest, 'https://evil.example/guest', 3);
    const pushes = await seen(d);
    expect(pushes.map((p) => p.url)).toEqual(['https://example.com/agent']);
    // The customer's own page does not count its own push either.
    expect(currentPage(await seen(d, customer.auth))?.url).toBe('https://example.com/agent');
  });

  it('a push under the agent’s id signed by someone else, or changed after signing, is dropped', async () => {
    const d = new Y.Doc();
    await push(d, agent, 'https://example.com/real', 5);
    const real = pushesOf(d).get(0) as unknown as Record<string, unknown>;
    // The customer signs a push and claims the agent wrote it.
    const scratch = new Y.Doc();
    await push(scratch, customer, 'https://evil.example/forged', 6);
    const forged = { ...(pushesOf(scratch).get(0) as unknown as Record<string, unknown>), by: 'agent-1' };
    pushesOf(d).push([
      forged,
      { ...real, id: 'tampered-1', url: 'https://evil.example/tampered' },
      { ...real, url: 'https://evil.example/tampered' },
      { ...real, seq: 99 },
      { ...real, at: 99 },
      { ...real, framing: 'refused' },
      { ...real, by: 'cust-1' },
    ] as never[]);
    const pushes = await seen(d);
    expect(pushes).toHaveLength(1);
    expect(pushes[0]).toMatchObject({ url: 'https://example.com/real', at: 5, framing: 'allowed' });
  });

  it('replaying an older push at the start or the end of the array does not change the current page', async () => {
    const d = new Y.Doc();
    await push(d, agent, 'https://example.com/old', 1);
    await push(d, agent, 'https://example.com/new', 2);
    const before = await seen(d);
    expect(currentPage(before)?.url).toBe('https://example.com/new');
    const old = pushesOf(d).get(0);
    pushesOf(d).push([{ ...old }]);
    pushesOf(d).insert(0, [{ ...old }]);
    pushesOf(d).insert(1, [{ ...old }]);
    const after = await seen(d);
    expect(after).toEqual(before);
    expect(currentPage(after)?.url).toBe('https://example.com/new');
    // The agent's next push still comes after everything.
    await push(d, agent, 'https://example.com/next', 3);
    expect(currentPage(await seen(d))?.url).toBe('https://example.com/next');
  });

  it('each push comes after every push its writer saw, even with a clock behind', async () => {
    const d = new Y.Doc();
    await push(d, agent, 'https://example.com/a', 1000);
    await push(d, agent, 'https://example.com/b', 10);
    expect(currentPage(await seen(d))?.url).toBe('https://example.com/b');
  });

  it('shows at most MAX_PUSHES, leaving out the oldest, and deletes nothing', async () => {
    const d = new Y.Doc();
    for (let i = 0; i < MAX_PUSHES + 5; i++) await push(d, agent, `https://example.com/${i}`, i);
    const pushes = await seen(d);
    expect(pushes).toHaveLength(MAX_PUSHES);
    expect(pushes[0]!.url).toBe('https://example.com/5');
    expect(currentPage(pushes)!.url).toBe(`https://example.com/${MAX_PUSHES + 4}`);
    expect(pushesOf(d).length).toBe(MAX_PUSHES + 5);
  }, 30_000);

  it('concurrent pushes from two documents (two tabs of the agent) converge to one current page', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), fc.nat(50), fc.boolean()), { minLength: 1, maxLength: 12 }), async (steps) => {
        const a = new Y.Doc();
        const b = new Y.Doc();
        for (const [onA, k, exchange] of steps) {
          await push(onA ? a : b, agent, `https://example.com/${k}`, k);
          if (exchange) sync(a, b);
        }
        sync(a, b);
        const auth = viewer();
        const [ra, rb] = [await seen(a, auth), await seen(b, auth)];
        expect(ra).toEqual(rb);
        expect(currentPage(ra)).toEqual(currentPage(rb));
        expect(ra).toHaveLength(steps.length);
      }),
      { numRuns: 40 },
    );
  });

  it('replayed copies inserted anywhere never change what any peer shows (property)', async () => {
    const d = new Y.Doc();
    for (let i = 0; i < 5; i++) await push(d, agent, `https://example.com/${i}`, i * 10);
    const records = pushesOf(d).toArray();
    const before = await seen(d);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(4), fc.nat(100)), { minLength: 1, maxLength: 8 }), async (replays) => {
        const copy = new Y.Doc();
        Y.applyUpdate(copy, Y.encodeStateAsUpdate(d));
        for (const [which, where] of replays) pushesOf(copy).insert(where % (pushesOf(copy).length + 1), [{ ...records[which]! }]);
        expect(await seen(copy)).toEqual(before);
      }),
      { numRuns: 30 },
    );
  });
});
