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

const agent = { participantId: 'agent-1', name: 'Dana', role: 'agent' as const };
let n = 0;
const id = () => `push-${++n}`;

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
  it('the current page is the latest push; a late joiner gets it with the history', () => {
    const a = new Y.Doc();
    pushPage(a, agent, { url: 'https://example.com/one', framing: 'allowed' }, 1, id);
    pushPage(a, agent, { url: 'https://example.com/two', framing: 'refused' }, 2, id);
    pushPage(a, agent, { url: 'https://example.com/one', framing: 'allowed' }, 3, id);
    const late = new Y.Doc();
    sync(a, late);
    const pushes = readPushes(late);
    expect(currentPage(pushes)?.url).toBe('https://example.com/one');
    expect(pushHistory(pushes).map((p) => [p.url, p.at])).toEqual([
      ['https://example.com/one', 3],
      ['https://example.com/two', 2],
    ]);
  });

  it('refuses to write anything but an http(s) address', () => {
    const d = new Y.Doc();
    expect(() => pushPage(d, agent, { url: 'javascript:alert(1)', framing: 'allowed' }, 1, id)).toThrow();
    expect(pushesOf(d).length).toBe(0);
  });

  it("drops what a hostile peer writes: other schemes, malformed entries, unknown framing", () => {
    const d = new Y.Doc();
    const base = { id: 'x', at: 1, byId: 'p', byName: 'Mallory', role: 'guest', framing: 'allowed' };
    pushesOf(d).push([
      { ...base, url: 'javascript:alert(1)' },
      { ...base, url: 'data:text/html,hi' },
      { ...base, url: 'https://ok.example/', framing: 'maybe' },
      { ...base, url: 'https://ok.example/', at: 1e300 },
      { ...base, url: 'https://user:pw@ok.example/' },
      { ...base, url: 'HTTPS://OK.EXAMPLE' },
      'garbage',
      { ...base, url: 'https://ok.example/fine' },
    ] as never[]);
    expect(readPushes(d).map((p) => p.url)).toEqual(['https://ok.example/fine']);
  });

  it('keeps at most MAX_PUSHES, dropping the oldest', () => {
    const d = new Y.Doc();
    for (let i = 0; i < MAX_PUSHES + 5; i++) pushPage(d, agent, { url: `https://example.com/${i}`, framing: 'allowed' }, i, id);
    const pushes = readPushes(d);
    expect(pushes).toHaveLength(MAX_PUSHES);
    expect(pushes[0]!.url).toBe('https://example.com/5');
  });

  it('concurrent pushes from two documents (two tabs of the agent) converge to one current page', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(50)), { minLength: 1, maxLength: 12 }), (steps) => {
        const a = new Y.Doc();
        const b = new Y.Doc();
        for (const [onA, k] of steps) pushPage(onA ? a : b, agent, { url: `https://example.com/${k}`, framing: 'allowed' }, k, id);
        sync(a, b);
        expect(readPushes(a)).toEqual(readPushes(b));
        expect(currentPage(readPushes(a))).toEqual(currentPage(readPushes(b)));
        expect(readPushes(a)).toHaveLength(steps.length);
      }),
    );
  });
});
